/**
 * What the replica's in-memory indexes (./boot-index.ts, ./cloud-init-index.ts)
 * are built from: maps whose values are one item or several, and a table
 * read a page at a time.
 */
import type { SqliteStatement } from "./sqlite";

/** One value or several: most keys hold one, and an array per key would double an index. */
export type Bucket<T> = T | T[];

export function add<K, T>(m: Map<K, Bucket<T>>, k: K, v: T) {
  const b = m.get(k);
  if (b === undefined) m.set(k, v);
  else if (Array.isArray(b)) b.push(v);
  else m.set(k, [b, v]);
}

export function remove<K, T>(m: Map<K, Bucket<T>>, k: K, v: T) {
  const b = m.get(k);
  if (b === v) m.delete(k);
  else if (Array.isArray(b)) {
    const rest = b.filter((x) => x !== v);
    if (rest.length === 0) m.delete(k);
    else m.set(k, rest.length === 1 ? rest[0]! : rest);
  }
}

export const each = <T>(b: Bucket<T> | undefined): readonly T[] =>
  b === undefined ? [] : Array.isArray(b) ? b : [b];

/** JavaScript's string order, which is SQLite's bytewise order for the ASCII ids the replica holds. */
export const byText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
export const byId = (a: { id: string }, b: { id: string }) => byText(a.id, b.id);

export interface Paged {
  rowid_: number;
}

/**
 * Every row of a table, a page at a time: rows that die young are collected
 * young, where 50,000 rows read at once would grow the old generation (and
 * the process's RSS) by several times what an index keeps.
 */
export function paged<R extends Paged>(read: SqliteStatement<[number, number], R>, each: (r: R) => void) {
  const size = 2000;
  for (let after = 0; ; ) {
    const rows = read.all(after, size);
    for (const r of rows) each(r);
    if (rows.length < size) return;
    after = rows[rows.length - 1]!.rowid_;
  }
}

/** A statement reading `cols` (`select a, b from t`) a page at a time, by rowid, for `paged`. */
export const pageOf = (db: { prepare(sql: string): unknown }, cols: string) =>
  db.prepare(
    `${cols.replace("select", "select rowid as rowid_,")} where rowid > ? order by rowid limit ?`,
  ) as SqliteStatement<[number, number], never>;
