/**
 * The ways the control API runs, each behind the same `call` function: the
 * Node server on embedded PGlite, the Node server on real Postgres, and the
 * wrangler-built Worker bundle in workerd (Miniflare) reaching Postgres
 * through a Hyperdrive binding or through Neon's serverless driver (over a
 * WebSocket-to-TCP proxy on loopback, as hosted Neon fronts its Postgres).
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Miniflare } from "miniflare";
import { openDatabase } from "../../control/db/node";
import { startControl } from "../../control/node/serve";
import { generateMasterKey, randomSecret } from "../../shared/auth/crypto";
import { type Logger, silentLogger } from "../../shared/log";
import { alive } from "../../shared/node/pid-lock";
import { createTestDatabase } from "./postgres";
import { type DbHop, startTcpRelay, startWsProxy } from "./ws-proxy";

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  // biome-ignore lint/suspicious/noExplicitAny: test answers are inspected freely.
  json: any;
}

export type Call = (
  method: string,
  path: string,
  /**
   * `token`: the bearer token to send; the target's admin token by default,
   * `null` for none. An explicit Authorization header wins over both.
   */
  init?: { body?: unknown; headers?: Record<string, string>; token?: string | null },
) => Promise<Answer>;

export interface Target {
  name: string;
  call: Call;
  /**
   * A raw request to the target (`path` on its origin), for bodies `call`
   * does not carry (streamed bytes) and answers it does not read (ranges,
   * redirects: never followed).
   */
  fetch(path: string, init?: RequestInit): Promise<Response>;
  /** A token of the bootstrap admin (every scope). */
  adminToken: string;
  /** What the target was started with, for tests that sign their own tokens. */
  env: TargetEnv;
  /** Where a Node target listens (for processes that talk to it, like an edge). */
  url?: string;
  /** The target's Postgres URL (not for node+pglite). */
  databaseUrl?: string;
  /**
   * Runs the Worker's cron trigger once (workerd targets only); its outcome:
   * `ok`, or `exception` when the run (its waitUntil work included) threw.
   */
  scheduled?: () => Promise<string>;
  /**
   * The network hop between the Worker and Postgres, for fault tests to cut:
   * the WebSocket proxy on workerd+neon, a TCP relay on workerd+postgres
   * started with `relay`.
   */
  hop?: DbHop;
  stop(): Promise<void>;
}

/** Auth settings every target starts with: a fresh master key and bootstrap admin. */
export interface TargetEnv {
  CHAMICORE_MASTER_KEY: string;
  CHAMICORE_BOOTSTRAP_CLIENT_ID: string;
  CHAMICORE_BOOTSTRAP_CLIENT_SECRET: string;
  [k: string]: string;
}

export function targetEnv(extra: Record<string, string> = {}): TargetEnv {
  return {
    CHAMICORE_MASTER_KEY: generateMasterKey(),
    CHAMICORE_BOOTSTRAP_CLIENT_ID: "test-admin",
    CHAMICORE_BOOTSTRAP_CLIENT_SECRET: randomSecret(24),
    ...extra,
  };
}

const basic = (id: string, secret: string) => `Basic ${btoa(`${id}:${secret}`)}`;

/** A token for a service account, via the token endpoint (form-encoded, HTTP Basic). */
export async function tokenFor(call: Call, id: string, secret: string, scope?: string): Promise<string> {
  const form = new URLSearchParams({ grant_type: "client_credentials", ...(scope ? { scope } : {}) });
  const res = await call("POST", "/auth/v1/token", {
    body: form.toString(),
    headers: { "Content-Type": "application/x-www-form-urlencoded", Authorization: basic(id, secret) },
  });
  if (res.status !== 200) throw new Error(`token for ${id}: ${res.status} ${res.text}`);
  return res.json.access_token;
}

async function withAdmin(t: Omit<Target, "adminToken" | "call"> & { rawCall: Call }): Promise<Target> {
  const adminToken = await tokenFor(
    t.rawCall,
    t.env.CHAMICORE_BOOTSTRAP_CLIENT_ID,
    t.env.CHAMICORE_BOOTSTRAP_CLIENT_SECRET,
  );
  const call: Call = (method, path, init = {}) =>
    t.rawCall(method, path, { ...init, token: init.token === undefined ? adminToken : init.token });
  const { rawCall: _, ...rest } = t;
  return { ...rest, call, adminToken };
}

async function toAnswer(res: Response): Promise<Answer> {
  const text = await res.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: res.status, headers: res.headers, text, json };
}

/** A `Call` over real HTTP to a running server (no token unless given). */
export const urlCall = (base: string): Call => callVia(fetch, base);

/** A `Call` through any fetch-like function (a server's URL, Miniflare's dispatchFetch). */
export function callVia(fetchFn: (url: string, init: RequestInit) => Promise<Response>, base: string): Call {
  return async (method, path, init = {}) => {
    const headers: Record<string, string> = {
      ...(init.token ? { Authorization: `Bearer ${init.token}` } : {}),
      ...init.headers,
    };
    let body: string | undefined;
    if (init.body !== undefined) {
      body = typeof init.body === "string" ? init.body : JSON.stringify(init.body);
      headers["Content-Type"] ??= "application/json";
    }
    return toAnswer(await fetchFn(base + path, { method, headers, body }));
  };
}

export async function nodePgliteTarget(extra: Record<string, string> = {}): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), "chamicore-pglite-"));
  const env = targetEnv(extra);
  const running = await startControl(
    { CHAMICORE_LISTEN: "127.0.0.1:0", CHAMICORE_DATA_DIR: dir, ...env },
    silentLogger,
  );
  return withAdmin({
    name: "node+pglite",
    rawCall: callVia(fetch, running.url),
    fetch: (path, init) => fetch(running.url + path, { redirect: "manual", ...init }),
    url: running.url,
    env,
    async stop() {
      await running.close();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}

/** The Node server on a fresh Postgres database; `logger` gets its log (silent by default). */
export async function nodePostgresTarget(
  extra: Record<string, string> = {},
  opts: { logger?: Logger } = {},
): Promise<Target> {
  const db = await createTestDatabase("node");
  const env = targetEnv(extra);
  const running = await startControl(
    { CHAMICORE_LISTEN: "127.0.0.1:0", DATABASE_URL: db.url, CHAMICORE_DATA_DIR: "/nonexistent", ...env },
    opts.logger ?? silentLogger,
  ).catch(async (e) => {
    await db.drop();
    throw e;
  });
  return withAdmin({
    name: "node+postgres",
    rawCall: callVia(fetch, running.url),
    fetch: (path, init) => fetch(running.url + path, { redirect: "manual", ...init }),
    url: running.url,
    env,
    databaseUrl: db.url,
    async stop() {
      await running.close();
      await db.drop();
    },
  });
}

const BUNDLES = join(process.cwd(), "dist", "worker-test");
let bundle: string | undefined;

/**
 * The same bundle `wrangler deploy` would upload, built once per test file
 * into a directory of its own (`dist/worker-test/<pid>`): files running side
 * by side must not overwrite each other's bundle. Test processes are killed
 * rather than exiting, so each build first removes the bundles of processes
 * that are gone.
 */
export function buildWorkerBundle(): string {
  if (!bundle) {
    mkdirSync(BUNDLES, { recursive: true });
    for (const name of readdirSync(BUNDLES))
      if (!alive(Number(name))) rmSync(join(BUNDLES, name), { recursive: true, force: true });
    const out = join(BUNDLES, String(process.pid));
    execFileSync("npx", ["wrangler", "deploy", "--dry-run", "--outdir", out], {
      stdio: "pipe",
      env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
    });
    bundle = join(out, "worker.js");
  }
  return bundle;
}

/** How the Worker reaches Postgres: a Hyperdrive binding (pg), or Neon's driver through a WebSocket proxy. */
export type WorkerDriver = "hyperdrive" | "neon";

export interface WorkerTargetOptions {
  driver?: WorkerDriver;
  /** An existing database to migrate and use (and leave in place); a fresh one by default. */
  databaseUrl?: string;
  /** Hyperdrive only: put a TCP relay between the binding and Postgres (see ws-proxy.ts). */
  relay?: boolean;
  /** Bind a local R2 bucket as ARTIFACTS (uploads); true by default. */
  artifacts?: boolean;
}

export async function workerTarget(
  extra: Record<string, string> = {},
  opts: WorkerTargetOptions = {},
): Promise<Target> {
  const driver = opts.driver ?? "hyperdrive";
  const script = buildWorkerBundle();
  const db = opts.databaseUrl
    ? { url: opts.databaseUrl, drop: async () => {} }
    : await createTestDatabase(`worker_${driver}`);
  const env = targetEnv(extra);
  let mf: Miniflare;
  let hop: DbHop | undefined;
  try {
    // The Worker does not migrate; an operator runs `chamicore migrate` first, as here.
    const node = await openDatabase({ databaseUrl: db.url, dataDir: "/nonexistent" });
    await node.migrate();
    await node.close();
    if (driver === "neon") {
      const proxy = await startWsProxy();
      hop = proxy;
      mf = await startMiniflare(script, db.url, env, { neonWsProxy: proxy.url, artifacts: opts.artifacts });
    } else if (opts.relay) {
      const url = new URL(db.url);
      const relay = await startTcpRelay({ host: url.hostname, port: Number(url.port || 5432) });
      hop = relay;
      url.host = `127.0.0.1:${relay.port}`;
      mf = await startMiniflare(script, url.toString(), env, { artifacts: opts.artifacts });
    } else mf = await startMiniflare(script, db.url, env, { artifacts: opts.artifacts });
  } catch (e) {
    await hop?.close();
    await db.drop();
    throw e;
  }
  // Miniflare also listens on loopback: processes (an edge) reach the Worker there.
  const url = (await mf.ready).toString().replace(/\/$/, "");
  return withAdmin({
    name: driver === "neon" ? "workerd+neon" : "workerd+postgres",
    url,
    rawCall: callVia(
      (url, init) => mf.dispatchFetch(url, init as never) as unknown as Promise<Response>,
      "http://control.test",
    ),
    fetch: (path, init) =>
      mf.dispatchFetch(`http://control.test${path}`, {
        redirect: "manual",
        ...init,
      } as never) as unknown as Promise<Response>,
    env,
    databaseUrl: db.url,
    hop,
    async scheduled() {
      // Miniflare's Fetcher has scheduled(); its bundled types do not say so.
      const worker = (await mf.getWorker()) as unknown as {
        scheduled(o: { cron: string }): Promise<{ outcome: string }>;
      };
      return (await worker.scheduled({ cron: "* * * * *" })).outcome;
    },
    async stop() {
      await mf.dispose();
      await hop?.close();
      await db.drop();
    },
  });
}

/** The Worker on Neon's serverless driver, through a WebSocket-to-TCP proxy to the local Postgres. */
export const workerNeonTarget = (extra: Record<string, string> = {}, opts: WorkerTargetOptions = {}) =>
  workerTarget(extra, { ...opts, driver: "neon" });

/**
 * The Worker bundle in workerd. With `neonWsProxy` it reaches `databaseUrl`
 * through Neon's driver (DATABASE_URL, no Hyperdrive binding); otherwise
 * through a Hyperdrive binding to it. An in-memory R2 bucket is bound as
 * ARTIFACTS unless `artifacts` is false.
 */
export async function startMiniflare(
  script: string,
  databaseUrl: string,
  env: Record<string, string>,
  opts: { neonWsProxy?: string; artifacts?: boolean } = {},
) {
  const mf = new Miniflare({
    modules: true,
    scriptPath: script,
    compatibilityDate: "2026-04-26",
    compatibilityFlags: ["nodejs_compat"],
    // The docs UI's files, answered before the Worker as wrangler.toml's [assets] are.
    assets: { directory: resolve("dist/assets"), routerConfig: { has_user_worker: true } },
    ...(opts.artifacts === false ? {} : { r2Buckets: ["ARTIFACTS"] }),
    ...(opts.neonWsProxy
      ? {
          bindings: {
            CHAMICORE_LOG_LEVEL: "error",
            DATABASE_URL: databaseUrl,
            CHAMICORE_NEON_WS_PROXY: opts.neonWsProxy,
            ...env,
          },
        }
      : { hyperdrives: { HYPERDRIVE: databaseUrl }, bindings: { CHAMICORE_LOG_LEVEL: "error", ...env } }),
  });
  await mf.ready;
  return mf;
}
