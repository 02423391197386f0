/**
 * The three ways the control API runs, each behind the same `call` function:
 * the Node server on embedded PGlite, the Node server on real Postgres, and
 * the wrangler-built Worker bundle in workerd (Miniflare) reaching Postgres
 * through a Hyperdrive binding.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Miniflare } from "miniflare";
import { openDatabase } from "../../control/db/node";
import { startControl } from "../../control/node/serve";
import { generateMasterKey, randomSecret } from "../../shared/auth/crypto";
import { silentLogger } from "../../shared/log";
import { createTestDatabase } from "./postgres";

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
  /** A token of the bootstrap admin (every scope). */
  adminToken: string;
  /** What the target was started with, for tests that sign their own tokens. */
  env: TargetEnv;
  /** Where a Node target listens (for processes that talk to it, like an edge). */
  url?: string;
  /** The target's Postgres URL (not for node+pglite). */
  databaseUrl?: string;
  /** Runs the Worker's cron trigger once (workerd targets only). */
  scheduled?: () => Promise<void>;
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

function callVia(fetchFn: (url: string, init: RequestInit) => Promise<Response>, base: string): Call {
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
    url: running.url,
    env,
    async stop() {
      await running.close();
      rmSync(dir, { recursive: true, force: true });
    },
  });
}

export async function nodePostgresTarget(extra: Record<string, string> = {}): Promise<Target> {
  const db = await createTestDatabase("node");
  const env = targetEnv(extra);
  const running = await startControl(
    { CHAMICORE_LISTEN: "127.0.0.1:0", DATABASE_URL: db.url, CHAMICORE_DATA_DIR: "/nonexistent", ...env },
    silentLogger,
  ).catch(async (e) => {
    await db.drop();
    throw e;
  });
  return withAdmin({
    name: "node+postgres",
    rawCall: callVia(fetch, running.url),
    url: running.url,
    env,
    databaseUrl: db.url,
    async stop() {
      await running.close();
      await db.drop();
    },
  });
}

let bundleBuilt = false;
/** The same bundle `wrangler deploy` would upload. */
export function buildWorkerBundle(): string {
  const out = join(process.cwd(), "dist", "worker");
  if (!bundleBuilt) {
    execFileSync("npx", ["wrangler", "deploy", "--dry-run", "--outdir", out], {
      stdio: "pipe",
      env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
    });
    bundleBuilt = true;
  }
  return join(out, "worker.js");
}

export async function workerTarget(extra: Record<string, string> = {}): Promise<Target> {
  const script = buildWorkerBundle();
  const db = await createTestDatabase("worker");
  const env = targetEnv(extra);
  // The Worker does not migrate; an operator runs `chamicore migrate` first, as here.
  let mf: Miniflare;
  try {
    const node = await openDatabase({ databaseUrl: db.url, dataDir: "/nonexistent" });
    await node.migrate();
    await node.close();
    mf = await startMiniflare(script, db.url, env);
  } catch (e) {
    await db.drop();
    throw e;
  }
  return withAdmin({
    name: "workerd+postgres",
    rawCall: callVia(
      (url, init) => mf.dispatchFetch(url, init as never) as unknown as Promise<Response>,
      "http://control.test",
    ),
    env,
    databaseUrl: db.url,
    async scheduled() {
      // Miniflare's Fetcher has scheduled(); its bundled types do not say so.
      const worker = (await mf.getWorker()) as unknown as {
        scheduled(o: { cron: string }): Promise<unknown>;
      };
      await worker.scheduled({ cron: "* * * * *" });
    },
    async stop() {
      await mf.dispose();
      await db.drop();
    },
  });
}

export async function startMiniflare(script: string, databaseUrl: string, env: Record<string, string>) {
  const mf = new Miniflare({
    modules: true,
    scriptPath: script,
    compatibilityDate: "2026-04-26",
    compatibilityFlags: ["nodejs_compat"],
    hyperdrives: { HYPERDRIVE: databaseUrl },
    bindings: { CHAMICORE_LOG_LEVEL: "error", ...env },
  });
  await mf.ready;
  return mf;
}
