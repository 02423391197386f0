/**
 * The control plane as a Cloudflare Worker (`wrangler dev`, `wrangler deploy`).
 *
 * Same app as on Node; only the database differs. A Worker cannot keep a
 * connection across requests, so each request that needs the database opens
 * one and closes it after the response: through a Hyperdrive binding (pg
 * over TCP, pooled by Hyperdrive) when `HYPERDRIVE` is bound, otherwise
 * through Neon's serverless driver with `DATABASE_URL`.
 *
 * Migrations are not applied from here: run `chamicore migrate` with
 * DATABASE_URL before deploying; /readiness reports 503 until then.
 */
import { Pool as NeonPool } from "@neondatabase/serverless";
import { drizzle as drizzleNeon } from "drizzle-orm/neon-serverless";
import { drizzle as drizzlePg } from "drizzle-orm/node-postgres";
import type { Context, Next } from "hono";
import pg from "pg";
import type { AppEnv } from "../functions/env";
import { createLogger, type LogLevel } from "../shared/log";
import { Registry } from "../shared/metrics";
import { ApiError } from "../shared/problem";
import { createControlApp } from "./app";
import * as schema from "./db/schema";
import type { Db } from "./db/types";
import { pgStores } from "./stores";

export interface WorkerEnv {
  /** Hyperdrive binding (wrangler.toml `[[hyperdrive]]`). */
  HYPERDRIVE?: { connectionString: string };
  /** Hosted Neon, used when no Hyperdrive binding is present. */
  DATABASE_URL?: string;
  CHAMICORE_LOG_LEVEL?: LogLevel;
}

interface ExecutionContextLike {
  waitUntil(p: Promise<unknown>): void;
}

async function openDb(env: WorkerEnv): Promise<{ db: Db; close: () => Promise<void> }> {
  if (env.HYPERDRIVE) {
    const client = new pg.Client({ connectionString: env.HYPERDRIVE.connectionString });
    await client.connect();
    return { db: drizzlePg(client, { schema }) as unknown as Db, close: () => client.end() };
  }
  if (env.DATABASE_URL) {
    const pool = new NeonPool({ connectionString: env.DATABASE_URL });
    return { db: drizzleNeon(pool, { schema }) as unknown as Db, close: () => pool.end() };
  }
  throw new ApiError("not-ready", "No database configured: bind HYPERDRIVE or set DATABASE_URL");
}

/** Per-request database for the routes that need one; closed once the response is made. */
async function storesPerRequest(c: Context<AppEnv & { Bindings: WorkerEnv }>, next: Next) {
  const { db, close } = await openDb(c.env);
  c.set("stores", pgStores(db));
  try {
    await next();
  } finally {
    (c.executionCtx as ExecutionContextLike).waitUntil(close().catch(() => {}));
  }
}

// One app and one metrics registry per isolate; they hold no connections.
let app: ReturnType<typeof createControlApp> | undefined;

export default {
  fetch(req: Request, env: WorkerEnv, ctx: ExecutionContextLike) {
    app ??= createControlApp({
      logger: createLogger({
        level: env.CHAMICORE_LOG_LEVEL ?? "info",
        base: { service: "chamicore-control" },
      }),
      registry: new Registry(),
      runtime: "workerd",
      stores: storesPerRequest as never,
    });
    return app.fetch(req, env, ctx as never);
  },
};
