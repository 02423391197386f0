/**
 * Helpers shared by the Postgres stores: filters and sorting from a
 * ListQuery, Postgres error codes through drizzle's wrapping, chunking.
 */
import { and, asc, type Column, count, desc, eq, inArray, type SQL } from "drizzle-orm";
import type { PgTable } from "drizzle-orm/pg-core";
import type { Page } from "../../functions/inventory/store";
import type { Stored } from "../../shared/envelope";
import { randomHex } from "../../shared/ids";
import type { ListQuery } from "../../shared/list-query";
import { ApiError, notFound } from "../../shared/problem";
import type { Db } from "../db/types";

/**
 * The one If-Match check of the stores. `locked` is the caller's `SELECT …
 * FOR UPDATE` of the row inside the write's transaction: the etag cannot
 * change between this check and the write, and checks made meanwhile see
 * the row that will be overwritten. Answers the row; 404 when there is
 * none, 412 when its etag is not `ifMatch`.
 */
export async function matchForUpdate<R extends { etag: string }>(
  locked: PromiseLike<R[]>,
  ifMatch: string,
  what: string,
  id: string,
): Promise<R> {
  const [row] = await locked;
  if (!row) throw notFound(what, id);
  if (row.etag !== ifMatch) throw changedSinceRead(what, id);
  return row;
}

/** The 412 of a write whose If-Match is not the row's etag. */
export const changedSinceRead = (what: string, id: string) =>
  new ApiError(
    "precondition-failed",
    `${what} '${id}' has a newer version than the one you read (If-Match does not match): read it again`,
  );

/** A row as the stores hand it out: the envelope's fields around the API object. */
export const storedOf = <S>(
  r: { id: string; etag: string; createdAt: Date; updatedAt: Date },
  spec: S,
): Stored<S> => ({ id: r.id, etag: r.etag, createdAt: r.createdAt, updatedAt: r.updatedAt, spec });

/** A fresh opaque etag for a row written now. */
export const newEtag = () => randomHex(8);

/** Whether `s` can be compared with a `uuid` column: Postgres refuses the query otherwise. */
export const isUuid = (s: string) =>
  /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(s);

/** `?a=1,2&b=3` → `a IN (1,2) AND b IN (3)` over the mapped columns. */
export function whereOf(q: ListQuery, columns: Record<string, Column>, extra: (SQL | undefined)[] = []) {
  const parts: (SQL | undefined)[] = [...extra];
  for (const [name, values] of Object.entries(q.filters)) {
    const col = columns[name];
    if (col) parts.push(inArray(col, values as (string | number)[]));
  }
  return and(...parts);
}

export function orderOf(q: ListQuery, columns: Record<string, Column>, tiebreak: Column) {
  const col = columns[q.sort.field] ?? tiebreak;
  const primary = q.sort.desc ? desc(col) : asc(col);
  return col === tiebreak ? [primary] : [primary, asc(tiebreak)];
}

/** The SQLSTATE of a Postgres error, looking through drizzle's DrizzleQueryError. */
export function pgCode(err: unknown): string | undefined {
  for (let e = err, depth = 0; e && depth < 5; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && /^[0-9A-Z]{5}$/.test(code)) return code;
  }
  return undefined;
}

export const UNIQUE_VIOLATION = "23505";
export const FK_VIOLATION = "23503";
export const UNDEFINED_TABLE = "42P01";

/**
 * A constraint violation that slipped past a store's checks because of a
 * concurrent write, as the 409 it is; anything else passes through.
 */
export function raceError(e: unknown, messages: { unique: string; foreignKey?: string }): unknown {
  if (e instanceof ApiError) return e;
  const code = pgCode(e);
  if (code === UNIQUE_VIOLATION) return new ApiError("conflict", messages.unique);
  if (code === FK_VIOLATION && messages.foreignKey) return new ApiError("conflict", messages.foreignKey);
  return e;
}

/** Postgres takes at most 65535 bind parameters per statement. */
export function chunks<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/** One page of a table and the total across pages, for the same filter. */
export async function pageOf<T extends PgTable>(
  db: Db,
  table: T,
  where: SQL | undefined,
  order: SQL[],
  q: ListQuery,
) {
  const t = table as PgTable;
  const [rows, [total]] = await Promise.all([
    db
      .select()
      .from(t)
      .where(where)
      .orderBy(...order)
      .limit(q.limit)
      .offset(q.offset),
    db.select({ n: count() }).from(t).where(where),
  ]);
  return { rows: rows as T["$inferSelect"][], total: Number(total?.n ?? 0) };
}

/**
 * The reads every resource table answers alike: a page by the list query's
 * filters and sort (over `columns`, the key breaking ties), and one row by
 * its key, each through the table's row mapper.
 */
export function resourceReads<T extends PgTable, S>(o: {
  table: T;
  key: Column;
  columns: Record<string, Column>;
  toStored: (r: T["$inferSelect"]) => Stored<S>;
}) {
  return {
    async list(db: Db, q: ListQuery, extra: (SQL | undefined)[] = []): Promise<Page<S>> {
      const where = whereOf(q, o.columns, extra);
      const { rows, total } = await pageOf(db, o.table, where, orderOf(q, o.columns, o.key), q);
      return { rows: rows.map(o.toStored), total };
    },
    async get(db: Db, id: string): Promise<Stored<S> | undefined> {
      const [row] = await db
        .select()
        .from(o.table as PgTable)
        .where(eq(o.key, id));
      return row ? o.toStored(row as T["$inferSelect"]) : undefined;
    },
  };
}

/** The rows of a `db.execute()` result: an array on some drivers, `.rows` on others. */
// biome-ignore lint/suspicious/noExplicitAny: execute() result shape differs by driver; every driver has .rows.
export const rowsOf = <T>(r: any): T[] => (Array.isArray(r) ? r : r.rows) as T[];
