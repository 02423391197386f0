/**
 * An edge site for end-to-end tests: `chamicore serve` on a fresh Postgres
 * database with a private nats-server, an operator's API, the edge's
 * service account, and `chamicore edge` processes following it. What each
 * test file then does to the site stays in the file.
 */

import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect } from "vitest";
import { openBetterSqlite } from "../../edge-node/node/sqlite";
import { Replica } from "../../edge-node/replica/replica";
import { SNAPSHOT_RESOURCES } from "../../functions/events/store";
import { generateMasterKey, randomSecret } from "../../shared/auth/crypto";
import { eventually, type PrivateNats, privateNats } from "./nats";
import { createTestDatabase } from "./postgres";
import { edge, freePort, type Proc, serve } from "./process";
import { type Answer, tokenFor, urlCall } from "./targets";

/** The URL the control plane and the edges put in boot scripts. */
export const PUBLIC = "http://boot.example:8081";

/** What to undo after the file's tests, last first. */
export type Cleanup = (() => Promise<unknown> | unknown)[];

/** A cleanup list run, in reverse, after all the file's tests (a failing step does not stop the rest). */
export function cleanupAfterAll(): Cleanup {
  const cleanup: Cleanup = [];
  afterAll(async () => {
    for (const f of cleanup.reverse()) await Promise.resolve(f()).catch(() => {});
  });
  return cleanup;
}

export type Api = (method: string, path: string, body?: unknown) => Promise<Answer>;

/** The control API at `url` as the holder of `token`; a body is sent as JSON. */
export function bearerApi(url: string, token: string): Api {
  const call = urlCall(url);
  return (method, path, body) => call(method, path, { body, token });
}

export interface ControlPlane {
  nats: PrivateNats;
  /** What `serve` ran with: the same again starts the same control plane (same port, database, key). */
  env: Record<string, string>;
  control: Proc & { url: string };
  /** The control API as the bootstrap operator `ops`. */
  api: Api;
  /** That operator's token, for requests `api` cannot make (raw uploads). */
  token: string;
}

/**
 * A private nats-server, a fresh database named for `database`, and `chamicore serve` on both,
 * publishing to `stream` under `prefix`; all of it undone through `cleanup`.
 */
export async function startControlPlane(
  cleanup: Cleanup,
  opts: { database: string; stream: string; prefix: string; env?: Record<string, string> },
): Promise<ControlPlane> {
  const nats = await privateNats();
  cleanup.push(() => nats.dispose());
  const db = await createTestDatabase(opts.database);
  cleanup.push(() => db.drop());
  const secret = randomSecret(24);
  const env = {
    DATABASE_URL: db.url,
    CHAMICORE_MASTER_KEY: generateMasterKey(),
    CHAMICORE_BOOTSTRAP_CLIENT_ID: "ops",
    CHAMICORE_BOOTSTRAP_CLIENT_SECRET: secret,
    CHAMICORE_LISTEN: `127.0.0.1:${await freePort()}`,
    CHAMICORE_PUBLIC_URL: PUBLIC,
    NATS_URL: nats.url,
    CHAMICORE_NATS_STREAM: opts.stream,
    CHAMICORE_NATS_SUBJECT_PREFIX: opts.prefix,
    ...opts.env,
  };
  const control = await startServe(cleanup, env);
  const token = await tokenFor(urlCall(control.url), "ops", secret);
  return { nats, env, control, api: bearerApi(control.url, token), token };
}

/** `chamicore serve` with `env`, killed at cleanup. */
export async function startServe(cleanup: Cleanup, env: Record<string, string>) {
  const control = await serve(env);
  cleanup.push(() => control.child.kill("SIGKILL"));
  return control;
}

/** Registers the artifact `name` and uploads `bytes` to the control plane, which then holds it. */
export async function uploadArtifact(cp: ControlPlane, name: string, kind: string, bytes: Uint8Array) {
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const reg = await cp.api("POST", "/boot/v1/artifacts", { name, sha256, size: bytes.length, kind });
  expect(reg.status, reg.text).toBe(201);
  const up = await fetch(`${cp.control.url}/boot/v1/artifacts/${name}/content`, {
    method: "PUT",
    headers: { Authorization: `Bearer ${cp.token}`, "Content-Type": "application/octet-stream" },
    body: bytes,
  });
  expect(up.status, await up.text()).toBe(200);
}

/** Creates the service account `id` with the edge role; its client credentials. */
export async function createEdgeAccount(api: Api, id: string) {
  const sa = await api("POST", "/auth/v1/service-accounts", { id, roles: ["edge"] });
  expect(sa.status, sa.text).toBe(201);
  return { id, secret: sa.json.spec.clientSecret as string };
}

/** A fresh data directory for an edge, removed at cleanup. */
export function edgeDataDir(cleanup: Cleanup, label: string) {
  const dir = mkdtempSync(join(tmpdir(), `chamicore-${label}-`));
  cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** What an edge of this site runs with: its account, `dir`, the site's stream, a 0.5 s poll; `extra` wins. */
export function edgeEnv(
  cp: ControlPlane,
  creds: { id: string; secret: string },
  dir: string,
  extra: Record<string, string> = {},
): Record<string, string> {
  return {
    CHAMICORE_CONTROL_URL: cp.control.url,
    CHAMICORE_EDGE_CLIENT_ID: creds.id,
    CHAMICORE_EDGE_CLIENT_SECRET: creds.secret,
    CHAMICORE_EDGE_DATA_DIR: dir,
    CHAMICORE_EDGE_PUBLIC_URL: PUBLIC,
    CHAMICORE_EDGE_POLL_SECONDS: "0.5",
    CHAMICORE_NATS_STREAM: cp.env.CHAMICORE_NATS_STREAM!,
    CHAMICORE_NATS_SUBJECT_PREFIX: cp.env.CHAMICORE_NATS_SUBJECT_PREFIX!,
    NATS_URL: cp.nats.url,
    ...extra,
  };
}

/** `chamicore edge` with `env` on a free port, killed at cleanup; returns once it listens. */
export async function startEdge(cleanup: Cleanup, env: Record<string, string>, args: string[] = []) {
  const e = await edge({ ...env, CHAMICORE_EDGE_LISTEN: `127.0.0.1:${await freePort()}` }, args);
  cleanup.push(() => e.child.kill("SIGKILL"));
  return e;
}

/** Waits for the edge's /readiness to answer 200. */
export function edgeReady(e: { url: string }) {
  return eventually(
    "the edge ready",
    async () => (await fetch(`${e.url}/readiness`)).status,
    (s) => s === 200,
  );
}

/** Compares the (stopped) edge's replica in `dir`, row for row, with the control plane's snapshot. */
export async function expectReplicaEqualsSnapshot(api: Api, dir: string) {
  const replica = Replica.open(dir, { sqlite: openBetterSqlite });
  try {
    const snap = (await api("GET", "/events/v1/snapshot")).json;
    const dump = replica.dump();
    for (const k of SNAPSHOT_RESOURCES) expect(dump[k], k).toEqual(snap[k]);
    expect(dump.position).toBe(snap.position);
  } finally {
    replica.close();
  }
}
