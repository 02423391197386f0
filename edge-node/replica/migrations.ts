/**
 * The replica's SQL migrations (migrations/sqlite, made by drizzle-kit from
 * schema.ts). From a checkout they are read from that folder; the single
 * executable carries them inside itself, put there at build time
 * (scripts/build-edge.ts defines CHAMICORE_REPLICA_MIGRATIONS), since it
 * runs where no checkout exists.
 */
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { type MigrationMeta, readMigrationFiles } from "drizzle-orm/migrator";

declare const CHAMICORE_REPLICA_MIGRATIONS: MigrationMeta[] | undefined;

export const REPLICA_MIGRATIONS_DIR = resolve(
  dirname(fileURLToPath(import.meta.url)),
  "../../migrations/sqlite",
);

/** The migrations built in, else those in `folder` (default: the checkout's). */
export function replicaMigrations(folder?: string): MigrationMeta[] {
  if (folder === undefined && typeof CHAMICORE_REPLICA_MIGRATIONS !== "undefined")
    return CHAMICORE_REPLICA_MIGRATIONS;
  return readMigrationFiles({ migrationsFolder: folder ?? REPLICA_MIGRATIONS_DIR });
}
