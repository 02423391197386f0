/**
 * The replica's SQLite in the single executable: `bun:sqlite`, adapted to
 * the seam's better-sqlite3 shape (edge-node/replica/sqlite.ts): `get` and
 * a plucked first column give `undefined` for no row, and `strict` lets
 * `@name` parameters bind from bare keys as better-sqlite3 does.
 */
import { Database, type SQLQueryBindings, type Statement } from "bun:sqlite";
import { drizzle } from "drizzle-orm/bun-sqlite";
import type { MigrationMeta } from "drizzle-orm/migrator";
import {
  type DrizzleMigrating,
  migrateWith,
  type SqliteDatabase,
  type SqliteStatement,
} from "../replica/sqlite";

type Params = SQLQueryBindings[];

function statement<P extends unknown[], R>(s: Statement, plucked = false): SqliteStatement<P, R> {
  const first = (row: unknown) => (row ? Object.values(row as Record<string, unknown>)[0] : undefined);
  return {
    get: (...p) => {
      const row = s.get(...(p as Params));
      return (plucked ? first(row) : (row ?? undefined)) as R | undefined;
    },
    all: (...p) => {
      if (!plucked) return s.all(...(p as Params)) as R[];
      return s.values(...(p as Params)).map((r) => r[0]) as R[];
    },
    run: (...p) => ({ changes: s.run(...(p as Params)).changes }),
    pluck: <T>() => statement<P, T>(s, true),
  };
}

export function openBunSqlite(file: string): SqliteDatabase {
  const db = new Database(file, { create: true, strict: true });
  return {
    prepare: <P extends unknown[], R>(sql: string) => statement<P, R>(db.prepare(sql)),
    exec: (sql) => {
      db.run(sql);
    },
    transaction: (fn) => db.transaction(fn) as never,
    migrate: (migrations: MigrationMeta[]) =>
      migrateWith(drizzle(db) as unknown as DrizzleMigrating, migrations),
    close: () => db.close(),
  };
}
