/**
 * The replica's SQLite on Node: better-sqlite3, whose API the seam
 * (edge-node/replica/sqlite.ts) already has, plus drizzle's migrator.
 */
import Database from "better-sqlite3";
import { drizzle } from "drizzle-orm/better-sqlite3";
import type { MigrationMeta } from "drizzle-orm/migrator";
import type { SqliteDatabase } from "../replica/sqlite";
import { type DrizzleMigrating, migrateWith } from "../replica/sqlite";

export function openBetterSqlite(file: string): SqliteDatabase {
  const db = new Database(file);
  return {
    prepare: (sql) => db.prepare(sql) as never,
    exec: (sql) => {
      db.exec(sql);
    },
    transaction: (fn) => db.transaction(fn) as never,
    migrate: (migrations: MigrationMeta[]) =>
      migrateWith(drizzle(db) as unknown as DrizzleMigrating, migrations),
    close: () => db.close(),
  };
}
