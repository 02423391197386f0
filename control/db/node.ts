/**
 * The Node side of the database factory: embedded PGlite in the data
 * directory when DATABASE_URL is unset, node-postgres otherwise. Migrations
 * are applied from migrations/postgres on the filesystem.
 */
import { mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { drizzle as drizzlePg } from "drizzle-orm/node-postgres";
import { migrate as migratePg } from "drizzle-orm/node-postgres/migrator";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import pg from "pg";
import * as schema from "./schema";
import type { Db } from "./types";

export const MIGRATIONS_DIR = resolve(dirname(fileURLToPath(import.meta.url)), "../../migrations/postgres");

export interface NodeDatabase {
  db: Db;
  kind: "pglite" | "postgres";
  /** Where the data lives, for the start-up log (no credentials). */
  where: string;
  migrate(): Promise<void>;
  close(): Promise<void>;
}

export async function openDatabase(opts: {
  databaseUrl?: string | undefined;
  dataDir: string;
  /** Told about errors on idle pooled connections (a Postgres restart, a dropped database). */
  onIdleError?: (err: Error) => void;
}): Promise<NodeDatabase> {
  if (opts.databaseUrl) {
    const pool = new pg.Pool({ connectionString: opts.databaseUrl, max: 10 });
    // Without a listener, an idle connection that the server terminates is an
    // unhandled 'error' event, and that kills the process. The pool drops the
    // connection and opens a new one on the next query.
    pool.on("error", (err) => opts.onIdleError?.(err));
    const db = drizzlePg(pool, { schema }) as unknown as Db;
    const u = new URL(opts.databaseUrl);
    return {
      db,
      kind: "postgres",
      where: `${u.hostname}:${u.port || 5432}${u.pathname}`,
      migrate: () => migratePg(db as never, { migrationsFolder: MIGRATIONS_DIR }),
      close: () => pool.end(),
    };
  }
  const dir = join(opts.dataDir, "pg");
  mkdirSync(dir, { recursive: true });
  const client = await PGlite.create(dir);
  const db = drizzlePglite(client, { schema }) as unknown as Db;
  return {
    db,
    kind: "pglite",
    where: resolve(dir),
    migrate: () => migratePglite(db as never, { migrationsFolder: MIGRATIONS_DIR }),
    close: () => client.close(),
  };
}
