/**
 * The control plane as a Cloudflare Worker (`wrangler dev`, `wrangler deploy`).
 *
 * Same app as on Node; only the database differs. A Worker cannot keep a
 * connection across requests, so each request that needs the database opens
 * one and closes it after the response: through a Hyperdrive binding (pg
 * over TCP, pooled by Hyperdrive) when `HYPERDRIVE` is bound, otherwise
 * through Neon's serverless driver with `DATABASE_URL` (hosted Neon, or a
 * Postgres behind the WebSocket proxy in `CHAMICORE_NEON_WS_PROXY`). See
 * docs/workers.md.
 *
 * Migrations are not applied from here: run `chamicore migrate` with
 * DATABASE_URL before deploying; /readiness reports 503 until then.
 */
import { Client as NeonClient, neonConfig } from "@neondatabase/serverless";
import { drizzle as drizzleNeon } from "drizzle-orm/neon-serverless";
import { drizzle as drizzlePg } from "drizzle-orm/node-postgres";
import type { Context, Next } from "hono";
import pg from "pg";
import { Keyring } from "../functions/auth";
import { ensureBootstrap } from "../functions/auth/bootstrap";
import type { RateLimitBinding } from "../functions/auth/login-throttle";
import {
  ConfigError,
  EventsEnvSchema,
  parseEnv,
  ServingEnvSchema,
  servingSettingsOf,
} from "../functions/config";
import type { AppEnv } from "../functions/env";
import { mcpModeOf } from "../functions/mcp/settings";
import { createLogger, type Logger, type LogLevel } from "../shared/log";
import { Registry } from "../shared/metrics";
import { ApiError, PROBLEM_CONTENT_TYPE } from "../shared/problem";
import { createControlApp } from "./app";
import {
  AuditEnvSchema,
  authSettingsOf,
  PowerEnvSchema,
  WorkerAuthEnvSchema,
  WorkerDbEnvSchema,
} from "./config";
import * as schema from "./db/schema";
import { traced } from "./db/traced";
import type { Db } from "./db/types";
import { flushQuietly, type WorkerRelayOptions } from "./events/worker-relay";
import { pgStores } from "./stores";
import { PgOutbox } from "./stores/outbox";
import { PgPowerStore } from "./stores/power";
import { ArtifactsEnvSchema, R2Artifacts, type R2BucketLike } from "./worker-artifacts";
import { type WorkerTracingEnv, workerTracing } from "./worker-tracing";

export interface WorkerEnv extends WorkerTracingEnv {
  /**
   * R2 bucket for uploaded artifacts (wrangler.toml `[[r2_buckets]]`).
   * Unbound, uploads answer 503 and artifacts can only be registered by URL.
   */
  ARTIFACTS?: R2BucketLike;
  /** Bytes per part of an upload in parts (default 64 MiB; at least 5 MiB). */
  CHAMICORE_ARTIFACT_PART_SIZE?: string;
  /** Hyperdrive binding (wrangler.toml `[[hyperdrive]]`). */
  HYPERDRIVE?: { connectionString: string };
  /** Rate limiting bindings (wrangler.toml `[[ratelimits]]`) counting failed logins per client id and per address. */
  LOGIN_CLIENT_LIMITER?: RateLimitBinding;
  LOGIN_ADDRESS_LIMITER?: RateLimitBinding;
  /** Hosted Neon, used when no Hyperdrive binding is present. */
  DATABASE_URL?: string;
  /** `ws://`/`wss://` WebSocket-to-TCP proxy for Neon's driver in front of a plain Postgres; unset for hosted Neon. */
  CHAMICORE_NEON_WS_PROXY?: string;
  CHAMICORE_LOG_LEVEL?: LogLevel;
  /** A secret (`wrangler secret put CHAMICORE_MASTER_KEY`); required: Workers have no data dir. */
  CHAMICORE_MASTER_KEY?: string;
  CHAMICORE_BOOTSTRAP_CLIENT_ID?: string;
  CHAMICORE_BOOTSTRAP_CLIENT_SECRET?: string;
  CHAMICORE_DEV_MODE?: string;
  CHAMICORE_TOKEN_TTL?: string;
  CHAMICORE_TRUSTED_ISSUERS?: string;
  CHAMICORE_KEY_ALGORITHM?: string;
  CHAMICORE_PUBLIC_URL?: string;
  CHAMICORE_BOOT_UNKNOWN_MAC?: string;
  CHAMICORE_TRUSTED_PROXIES?: string;
  /** `wss://` URL(s) of a nats-server websocket listener. */
  NATS_URL?: string;
  CHAMICORE_NATS_STREAM?: string;
  CHAMICORE_NATS_SUBJECT_PREFIX?: string;
  CHAMICORE_OUTBOX_RETENTION_DAYS?: string;
  /** Days audit records are kept; the cron prunes older ones. */
  CHAMICORE_AUDIT_RETENTION_DAYS?: string;
  /** Nodes one power request may name. Power tasks are recorded here; a Worker runs none (see docs/power.md). */
  CHAMICORE_POWER_MAX_NODES?: string;
}

interface ExecutionContextLike {
  waitUntil(p: Promise<unknown>): void;
  passThroughOnException?(): void;
}

/** Where the Worker's database is, from its bindings and environment. */
interface DbSettings {
  hyperdrive?: { connectionString: string };
  databaseUrl?: string;
  neonWsProxy?: string;
}

function dbSettingsOf(env: WorkerEnv): DbSettings {
  const parsed = parseEnv(WorkerDbEnvSchema, env as Record<string, unknown>);
  return {
    hyperdrive: env.HYPERDRIVE,
    databaseUrl: parsed.DATABASE_URL,
    neonWsProxy: parsed.CHAMICORE_NEON_WS_PROXY,
  };
}

/**
 * Points Neon's driver at a self-hosted WebSocket-to-TCP proxy in front of a
 * plain Postgres. Unset, the driver keeps its defaults for hosted Neon.
 * Global, but an isolate has one environment, so every call sets the same.
 */
function useNeonProxy(proxy: string | undefined) {
  if (!proxy) return;
  const u = new URL(proxy);
  const base = `${u.host}${u.pathname.replace(/\/+$/, "")}`;
  neonConfig.wsProxy = (host, port) => `${base}?address=${host}:${port}`;
  neonConfig.useSecureWebSocket = u.protocol === "wss:";
  // Pipelining sends a cleartext password before Postgres asks for one: a
  // plain Postgres asking for SCRAM, or trusting the address, fails the
  // connection ("invalid frontend message type 112").
  neonConfig.pipelineConnect = false;
}

/**
 * How long a request waits for its connection before it answers 503. Long
 * enough for a hosted Neon compute to wake from scale-to-zero; short enough
 * that an unreachable database does not hold requests until the platform
 * cancels them.
 */
const CONNECT_TIMEOUT_MS = 10_000;

/**
 * One connection for one request (or cron run), on either driver: pg through
 * Hyperdrive, or Neon's driver (pg's Client over a WebSocket). A single
 * client rather than a pool: a request's queries run one after another on
 * the same session either way, and a pool per request would open a
 * connection per concurrent query.
 */
async function openDb(s: DbSettings, logger: Logger): Promise<{ db: Db; close: () => Promise<void> }> {
  let client: pg.Client | NeonClient;
  let db: Db;
  if (s.hyperdrive) {
    client = new pg.Client({
      connectionString: s.hyperdrive.connectionString,
      connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    });
    db = traced(drizzlePg(client, { schema }));
  } else if (s.databaseUrl) {
    useNeonProxy(s.neonWsProxy);
    client = new NeonClient({ connectionString: s.databaseUrl, connectionTimeoutMillis: CONNECT_TIMEOUT_MS });
    db = traced(drizzleNeon(client, { schema }));
  } else {
    throw new ApiError("not-ready", "No database configured: bind HYPERDRIVE or set DATABASE_URL");
  }
  // A connection lost between two queries (backend terminated, socket cut) is
  // emitted as 'error', which an EventEmitter throws when nobody listens. The
  // next query fails on its own and the request answers 503 (databaseFault).
  client.on("error", (e: { message?: string }) =>
    logger.warn("database connection lost", { err: e.message }),
  );
  try {
    await client.connect();
  } catch (e) {
    // Neon's driver rejects with its WebSocket's ErrorEvent, which is no
    // Error: Hono's error handler would let it escape as a bare 500.
    if (e instanceof Error) throw e;
    throw new Error(`database connection failed: ${(e as { message?: string }).message ?? String(e)}`, {
      cause: e,
    });
  }
  return { db, close: () => client.end() };
}

/**
 * Per-request database for the routes that need one; closed once the
 * response is made, after the outbox is flushed when the request wrote.
 */
const storesPerRequest =
  (dbSettings: DbSettings, relay: WorkerRelayOptions | undefined, logger: Logger) =>
  async (c: Context<AppEnv & { Bindings: WorkerEnv }>, next: Next) => {
    const { db, close } = await openDb(dbSettings, logger);
    c.set("stores", pgStores(db));
    let streamed: Promise<void> = Promise.resolve();
    try {
      await next();
      // An event stream (an MCP tool call at /mcp) goes on after the handler returns, and still
      // uses the connection (its audit record): it is closed once the stream has ended.
      if (c.res.body && c.res.headers.get("Content-Type")?.startsWith("text/event-stream")) {
        const held = heldUntilEnd(c.res.body);
        c.res = new Response(held.body, c.res);
        streamed = held.ended;
      }
    } finally {
      const wrote = c.req.method !== "GET" && c.req.method !== "HEAD";
      const after = streamed.then(() => (relay && wrote ? flushQuietly(db, relay, logger) : undefined));
      (c.executionCtx as ExecutionContextLike).waitUntil(after.then(() => close()).catch(() => {}));
    }
  };

/** `body` passed through, and a promise settled when it has been read to its end or cancelled. */
function heldUntilEnd(body: ReadableStream<Uint8Array>) {
  let ended!: () => void;
  const done = new Promise<void>((resolve) => {
    ended = resolve;
  });
  const reader = body.getReader();
  const passed = new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          controller.close();
          ended();
        } else controller.enqueue(value);
      } catch (e) {
        controller.error(e);
        ended();
      }
    },
    async cancel(reason) {
      ended();
      await reader.cancel(reason);
    },
  });
  return { body: passed, ended: done };
}

function relayOptionsOf(env: WorkerEnv, logger: Logger): WorkerRelayOptions | undefined {
  const events = parseEnv(EventsEnvSchema, env as Record<string, unknown>);
  if (!events.NATS_URL) return undefined;
  return {
    servers: events.NATS_URL,
    stream: events.CHAMICORE_NATS_STREAM,
    subjectPrefix: events.CHAMICORE_NATS_SUBJECT_PREFIX,
    logger,
  };
}

/** Runs `fn` until it has succeeded once; a failure lets the next caller try again. */
function once<A>(fn: (a: A) => Promise<unknown>) {
  let done: Promise<unknown> | undefined;
  return async (a: A) => {
    done ??= fn(a).catch((e) => {
      done = undefined;
      throw e;
    });
    await done;
  };
}

function createApp(env: WorkerEnv) {
  const logger = createLogger({
    level: env.CHAMICORE_LOG_LEVEL ?? "info",
    base: { service: "chamicore-control" },
  });
  const auth = parseEnv(WorkerAuthEnvSchema, env as Record<string, unknown>);
  const serving = parseEnv(ServingEnvSchema, env as Record<string, unknown>);
  const power = parseEnv(PowerEnvSchema, env as Record<string, unknown>);
  const artifacts = parseEnv(ArtifactsEnvSchema, env as Record<string, unknown>);
  const relay = relayOptionsOf(env, logger);
  const dbSettings = dbSettingsOf(env);
  if (!auth.CHAMICORE_MASTER_KEY)
    throw new ConfigError("CHAMICORE_MASTER_KEY is not set: wrangler secret put CHAMICORE_MASTER_KEY");
  const settings = authSettingsOf(auth, auth.CHAMICORE_MASTER_KEY, {
    client: env.LOGIN_CLIENT_LIMITER,
    address: env.LOGIN_ADDRESS_LIMITER,
  });
  if (settings.devMode)
    logger.warn("DEV MODE: POST /auth/v1/token gives an admin token to anyone, without credentials.");
  return createControlApp({
    logger,
    registry: new Registry(),
    runtime: "workerd",
    power: { maxNodes: power.CHAMICORE_POWER_MAX_NODES },
    mcp: { mode: mcpModeOf(env as Record<string, string | undefined>) },
    ...(env.ARTIFACTS && {
      artifacts: {
        files: new R2Artifacts(env.ARTIFACTS, { partSize: artifacts.CHAMICORE_ARTIFACT_PART_SIZE }),
      },
    }),
    stores: storesPerRequest(dbSettings, relay, logger) as never,
    // Cloudflare puts the client's address in CF-Connecting-IP.
    serving: servingSettingsOf({ ...serving, CHAMICORE_PUBLIC_URL: auth.CHAMICORE_PUBLIC_URL }, (c) =>
      c.req.header("CF-Connecting-IP"),
    ),
    auth: {
      settings,
      keyring: new Keyring(settings),
      bundleKeyring: new Keyring(settings),
      beforeFirstToken: once((s) => ensureBootstrap(s, settings)),
    },
  });
}

// One app, metrics registry and key cache per isolate; they hold no connections.
let app: ReturnType<typeof createControlApp> | undefined;
// The isolate's tracing (null: off), started with the first request.
let tracing: ReturnType<typeof workerTracing> | null | undefined;

/**
 * `ctx` with every `waitUntil` noted, so that the request's spans are sent
 * once its after-work (the outbox flush and its publish spans) is done.
 */
function tracked(ctx: ExecutionContextLike) {
  const pending: Promise<unknown>[] = [];
  return {
    ctx: {
      waitUntil(p: Promise<unknown>) {
        pending.push(p);
        ctx.waitUntil(p);
      },
      passThroughOnException: () => ctx.passThroughOnException?.(),
    },
    settled: () => Promise.allSettled(pending),
  };
}

export default {
  /** The cron trigger (wrangler.toml): publishes what a failed flush left in the outbox, and prunes. */
  scheduled(_event: unknown, env: WorkerEnv, ctx: ExecutionContextLike) {
    tracing ??= workerTracing(env) ?? null;
    const logger = createLogger({
      level: env.CHAMICORE_LOG_LEVEL ?? "info",
      base: { service: "chamicore-control" },
    });
    const relay = relayOptionsOf(env, logger);
    const events = parseEnv(EventsEnvSchema, env as Record<string, unknown>);
    const audit = parseEnv(AuditEnvSchema, env as Record<string, unknown>);
    ctx.waitUntil(
      (async () => {
        const { db, close } = await openDb(dbSettingsOf(env), logger);
        try {
          if (relay) await flushQuietly(db, relay, logger);
          await new PgOutbox(db).prune(
            new Date(Date.now() - events.CHAMICORE_OUTBOX_RETENTION_DAYS * 86_400_000),
          );
          await pgStores(db).auth.revocations.prune(new Date());
          await pgStores(db).audit.prune(
            new Date(Date.now() - audit.CHAMICORE_AUDIT_RETENTION_DAYS * 86_400_000),
          );
          // No power agent runs here: tasks nobody took fail at their deadline rather than wait forever.
          await new PgPowerStore(db).failOverdue(null, new Set(), new Date(), { unclaimedOnly: true });
        } finally {
          await close();
          // The publish spans of events a failed flush left (their traces go on from the outbox).
          await tracing?.flush().catch(() => {});
        }
      })(),
    );
  },

  fetch(req: Request, env: WorkerEnv, ctx: ExecutionContextLike) {
    try {
      app ??= createApp(env);
    } catch (e) {
      if (!(e instanceof ConfigError)) throw e;
      // A misconfigured Worker says why on every request rather than failing opaquely.
      const problem = new ApiError("not-ready", e.message).toProblem(new URL(req.url).pathname, undefined);
      return new Response(JSON.stringify(problem), {
        status: 503,
        headers: { "Content-Type": PROBLEM_CONTENT_TYPE },
      });
    }
    tracing ??= workerTracing(env) ?? null;
    if (!tracing) return app.fetch(req, env, ctx as never);
    const t = tracing;
    const work = tracked(ctx);
    return Promise.resolve(app.fetch(req, env, work.ctx as never)).finally(() =>
      ctx.waitUntil(
        work
          .settled()
          .then(() => t.flush())
          .catch(() => {}),
      ),
    );
  },
};
