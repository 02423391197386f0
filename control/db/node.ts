/**
 * The Node side of the database factory: embedded PGlite in the data
 * directory when DATABASE_URL is unset, node-postgres otherwise. Migrations
 * are applied from migrations/postgres on the filesystem.
 */
import { existsSync, mkdirSync, readdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { PGlite } from "@electric-sql/pglite";
import { drizzle as drizzlePg } from "drizzle-orm/node-postgres";
import { migrate as migratePg } from "drizzle-orm/node-postgres/migrator";
import { drizzle as drizzlePglite } from "drizzle-orm/pglite";
import { migrate as migratePglite } from "drizzle-orm/pglite/migrator";
import pg from "pg";
import type { Logger } from "../../shared/log";
import { pidLock } from "../../shared/node/pid-lock";
import { unpackTemplate } from "./pglite-template";
import * as schema from "./schema";
import { traced } from "./traced";
import type { Db } from "./types";

/**
 * The checkout (or installed package) this module belongs to, found by
 * walking up to package.json: the module runs from control/db/ in the
 * sources and from a chunk in dist/cli/ in the bundled CLI.
 */
function packageRoot(): string {
  for (let dir = dirname(fileURLToPath(import.meta.url)); ; dir = dirname(dir)) {
    if (existsSync(join(dir, "package.json")) && existsSync(join(dir, "migrations/postgres"))) return dir;
    if (dirname(dir) === dir)
      throw new Error(`no migrations/postgres above ${fileURLToPath(import.meta.url)}`);
  }
}

/** The checkout or installed package: where migrations and built files are. */
export const PACKAGE_ROOT = packageRoot();
const ROOT = PACKAGE_ROOT;
export const MIGRATIONS_DIR = join(ROOT, "migrations/postgres");

/**
 * An embedded database already through initdb and these migrations
 * (./pglite-template.ts). Without it (not built), a first start runs initdb.
 */
export const PGLITE_TEMPLATE = join(ROOT, "dist/pglite/template.tar.gz");

export interface NodeDatabase {
  db: Db;
  kind: "pglite" | "postgres";
  /** Where the data lives, for the start-up log (no credentials). */
  where: string;
  /** Applies pending migrations; on Postgres, one process at a time (`log` hears when it waits). */
  migrate(log?: Pick<Logger, "info">): Promise<void>;
  close(): Promise<void>;
}

export async function openDatabase(opts: {
  databaseUrl?: string | undefined;
  dataDir: string;
  /** Told when a pooled connection is lost (a terminated session, a Postgres restart, a dropped database). */
  onConnectionError?: (err: Error) => void;
}): Promise<NodeDatabase> {
  if (opts.databaseUrl) {
    const pool = new pg.Pool({
      connectionString: opts.databaseUrl,
      max: 10,
      // A request waits this long for a connection before it fails (503, control/db/faults.ts)
      // rather than forever while Postgres is unreachable.
      connectionTimeoutMillis: 10_000,
      // A peer that vanished without closing (a cut network) is noticed by the kernel.
      keepAlive: true,
    });
    // A client whose server session ends emits 'error'; with no listener that
    // is an unhandled 'error' event, and that kills the process. The pool
    // listens only while a client is idle, so a client checked out (inside a
    // transaction, between two statements) had none: each client gets one for
    // its whole life. Its query in flight fails on its own, the pool discards
    // the broken client on release, and the next query opens a new one.
    pool.on("connect", (client) => {
      client.on("error", (err) => opts.onConnectionError?.(err));
    });
    // The pool re-emits an idle client's error; the listener above has told it already.
    pool.on("error", () => {});
    const db: Db = traced(drizzlePg(pool, { schema }));
    const u = new URL(opts.databaseUrl);
    return {
      db,
      kind: "postgres",
      where: `${u.hostname}:${u.port || 5432}${u.pathname}`,
      migrate: (log) => migrateLocked(opts.databaseUrl!, log),
      close: () => pool.end(),
    };
  }
  const dir = join(opts.dataDir, "pg");
  mkdirSync(dir, { recursive: true });
  const unlock = lockEmbedded(opts.dataDir);
  let client: PGlite;
  try {
    if (readdirSync(dir).length === 0 && existsSync(PGLITE_TEMPLATE)) unpackTemplate(PGLITE_TEMPLATE, dir);
    client = await PGlite.create(dir);
  } catch (e) {
    unlock();
    throw e;
  }
  const pglite = drizzlePglite(client, { schema });
  const db: Db = traced(pglite);
  return {
    db,
    kind: "pglite",
    where: resolve(dir),
    migrate: () => migratePglite(pglite, { migrationsFolder: MIGRATIONS_DIR }),
    close: async () => {
      await client.close();
      unlock();
    },
  };
}

/**
 * Session-level advisory lock key held around a migration run ("chmm"); the
 * outbox keeps its own keys (control/stores/outbox.ts). docs/operations.md
 * lists them all.
 */
export const MIGRATION_LOCK = 0x63686d6d;

/**
 * Several processes started at once on one database (replicas of `serve`, a
 * `migrate` beside them) would each run the same migration: `CREATE SCHEMA`
 * and friends are not safe against each other and all but one fail. So one
 * migrates while holding an advisory lock and the others wait for it, then
 * find nothing left to apply.
 *
 * The lock and the migration share one dedicated connection, opened here and
 * ended after: drizzle's migrator over the pool would take another
 * connection for its transaction, and if the locking session then died the
 * lock would be gone while the migration still ran, letting a waiter start
 * the same DDL beside it. On one connection the lock lives exactly as long as
 * the session doing the work; ending the connection releases it whatever
 * happened, so a failed run cannot leave it held.
 */
async function migrateLocked(databaseUrl: string, log?: Pick<Logger, "info">): Promise<void> {
  const client = new pg.Client({ connectionString: databaseUrl, connectionTimeoutMillis: 10_000 });
  // Without a listener a lost session's 'error' event would kill the process; the query in flight fails anyway.
  client.on("error", () => {});
  await client.connect();
  try {
    const { rows } = await client.query<{ ok: boolean }>("select pg_try_advisory_lock($1) as ok", [
      MIGRATION_LOCK,
    ]);
    if (!rows[0]?.ok) {
      log?.info("waiting for another process's migration");
      // Blocks until that process's run ends (committed or not) and its session lets go.
      await client.query("select pg_advisory_lock($1)", [MIGRATION_LOCK]);
    }
    await migratePg(drizzlePg(client, { schema }), { migrationsFolder: MIGRATIONS_DIR });
    await client.query("select pg_advisory_unlock($1)", [MIGRATION_LOCK]);
  } finally {
    await client.end().catch(() => {});
  }
}

export class EmbeddedDatabaseBusy extends Error {}

/**
 * PGlite is one process's database: a second process opening the same
 * directory (say `chamicore migrate` beside a running `serve`) would corrupt
 * it. A pid file keeps that out; one left by a killed process is taken over.
 */
function lockEmbedded(dataDir: string): () => void {
  const path = join(dataDir, "pg.lock");
  return pidLock(
    path,
    (pid) =>
      new EmbeddedDatabaseBusy(
        pid
          ? `the embedded database in ${resolve(dataDir)} is in use by process ${pid}; stop it first (or use the API)`
          : `could not lock ${path}`,
      ),
  );
}
