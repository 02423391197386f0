/**
 * The replica's SQLite seam: the few calls the replica makes, answered by
 * better-sqlite3 where Node runs the edge (a checkout, the tests) and by
 * `bun:sqlite` in the single executable (better-sqlite3 is a Node addon and
 * does not load in Bun). One schema and one set of statements over both.
 *
 * The shape is better-sqlite3's: `get` gives `undefined` for no row, `pluck`
 * gives the first column, `transaction(fn).immediate()` takes the write lock
 * first. Named parameters are written `@name` and bound from an object with
 * bare keys.
 */
import type { MigrationMeta } from "drizzle-orm/migrator";

export interface SqliteStatement<P extends unknown[] = unknown[], R = unknown> {
  get(...params: P): R | undefined;
  all(...params: P): R[];
  run(...params: P): { changes: number };
  /** The same statement, answering only its first column. */
  pluck<T = unknown>(): SqliteStatement<P, T>;
}

export interface SqliteTransaction<A extends unknown[], T> {
  (...args: A): T;
  /** BEGIN IMMEDIATE: the write lock is taken before the first read. */
  immediate(...args: A): T;
}

export interface SqliteDatabase {
  prepare<P extends unknown[] = unknown[], R = unknown>(sql: string): SqliteStatement<P, R>;
  /** Runs statements that return nothing (pragmas, DDL). */
  exec(sql: string): void;
  transaction<A extends unknown[], T>(fn: (...args: A) => T): SqliteTransaction<A, T>;
  /** Brings the schema up to date (drizzle's migrator, as each driver has it). */
  migrate(migrations: MigrationMeta[]): void;
  close(): void;
}

/** Opens (creating) a database file: one per runtime. */
export type OpenSqlite = (file: string) => SqliteDatabase;

/**
 * A drizzle SQLite database as its own migrator uses it: drizzle's
 * `migrate(db, {migrationsFolder})` reads the folder, which the executable
 * does not have, so the migrations are handed over already read.
 */
export interface DrizzleMigrating {
  dialect: { migrate(migrations: MigrationMeta[], session: unknown, config: object): void };
  session: unknown;
}

export function migrateWith(db: DrizzleMigrating, migrations: MigrationMeta[]): void {
  db.dialect.migrate(migrations, db.session, {});
}
