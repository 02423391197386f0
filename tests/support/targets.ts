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
  init?: { body?: unknown; headers?: Record<string, string> },
) => Promise<Answer>;

export interface Target {
  name: string;
  call: Call;
  stop(): Promise<void>;
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

function callVia(fetchFn: (url: string, init: RequestInit) => Promise<Response>, base: string): Call {
  return async (method, path, init = {}) => {
    const headers: Record<string, string> = { ...init.headers };
    let body: string | undefined;
    if (init.body !== undefined) {
      body = typeof init.body === "string" ? init.body : JSON.stringify(init.body);
      headers["Content-Type"] ??= "application/json";
    }
    return toAnswer(await fetchFn(base + path, { method, headers, body }));
  };
}

export async function nodePgliteTarget(): Promise<Target> {
  const dir = mkdtempSync(join(tmpdir(), "chamicore-pglite-"));
  const running = await startControl(
    { CHAMICORE_LISTEN: "127.0.0.1:0", CHAMICORE_DATA_DIR: dir },
    silentLogger,
  );
  return {
    name: "node+pglite",
    call: callVia(fetch, running.url),
    async stop() {
      await running.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export async function nodePostgresTarget(): Promise<Target> {
  const db = await createTestDatabase("node");
  const running = await startControl(
    { CHAMICORE_LISTEN: "127.0.0.1:0", DATABASE_URL: db.url, CHAMICORE_DATA_DIR: "/nonexistent" },
    silentLogger,
  ).catch(async (e) => {
    await db.drop();
    throw e;
  });
  return {
    name: "node+postgres",
    call: callVia(fetch, running.url),
    async stop() {
      await running.close();
      await db.drop();
    },
  };
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

export async function workerTarget(): Promise<Target> {
  const script = buildWorkerBundle();
  const db = await createTestDatabase("worker");
  // The Worker does not migrate; an operator runs `chamicore migrate` first, as here.
  let mf: Miniflare;
  try {
    const node = await openDatabase({ databaseUrl: db.url, dataDir: "/nonexistent" });
    await node.migrate();
    await node.close();
    mf = await startMiniflare(script, db.url);
  } catch (e) {
    await db.drop();
    throw e;
  }
  return {
    name: "workerd+postgres",
    call: callVia(
      (url, init) => mf.dispatchFetch(url, init as never) as unknown as Promise<Response>,
      "http://control.test",
    ),
    async stop() {
      await mf.dispose();
      await db.drop();
    },
  };
}

export async function startMiniflare(script: string, databaseUrl: string) {
  const mf = new Miniflare({
    modules: true,
    scriptPath: script,
    compatibilityDate: "2026-04-26",
    compatibilityFlags: ["nodejs_compat"],
    hyperdrives: { HYPERDRIVE: databaseUrl },
    bindings: { CHAMICORE_LOG_LEVEL: "error" },
  });
  await mf.ready;
  return mf;
}
