/**
 * `chamicore serve` as a user runs it (`npm start` runs the same bin): on the
 * embedded default, data written survives a clean stop and a crash; with
 * DATABASE_URL, `chamicore migrate` prepares the database; bad configuration
 * stops the start with a message naming the variable.
 */
import { mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { generateMasterKey } from "../../shared/auth/crypto";
import { createTestDatabase, type TestDatabase } from "../support/postgres";
import { freePort, run, serve } from "../support/process";

const dirs: string[] = [];
const dbs: TestDatabase[] = [];
afterAll(async () => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
  for (const db of dbs) await db.drop();
});

const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), "chamicore-e2e-"));
  dirs.push(d);
  return d;
};

let token = "";
const auth = () => ({ Authorization: `Bearer ${token}` });
const get = (url: string) => fetch(url, { headers: auth() });
const post = (url: string, body: unknown) =>
  fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...auth() },
    body: JSON.stringify(body),
  });

/** The first start prints the administrator's secret once; a token is one curl away. */
async function firstAdminToken(url: string, output: string): Promise<{ secret: string; token: string }> {
  const secret = /client secret: (\S+)/.exec(output)?.[1];
  expect(secret, output).toBeDefined();
  const res = await fetch(`${url}/auth/v1/token`, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-www-form-urlencoded",
      Authorization: `Basic ${btoa(`admin:${secret}`)}`,
    },
    body: "grant_type=client_credentials",
  });
  expect(res.status).toBe(200);
  return { secret: secret!, token: ((await res.json()) as { access_token: string }).access_token };
}

describe("chamicore serve on the embedded database", () => {
  it("keeps data, keys and the first admin across a clean stop and across a crash", async () => {
    const dataDir = tmp();
    const env = { CHAMICORE_DATA_DIR: dataDir, CHAMICORE_LISTEN: `127.0.0.1:${await freePort()}` };

    const first = await serve(env);
    expect(await (await fetch(`${first.url}/health`)).text()).toBe(`{"status":"ok"}`);
    ({ token } = await firstAdminToken(first.url, first.output()));
    // The master key file is private to its owner.
    expect(statSync(join(dataDir, "master.key")).mode & 0o777).toBe(0o600);
    expect((await fetch(`${first.url}/hsm/v2/State/Components`)).status).toBe(401);
    const created = await post(`${first.url}/hsm/v2/State/Components`, {
      id: "x1000c0s0b0n0",
      role: "Compute",
      nid: 7,
      interfaces: [{ macAddress: "a4:bf:01:38:ee:65" }],
    });
    expect(created.status).toBe(201);
    const etag = created.headers.get("etag");
    first.child.kill("SIGTERM");
    expect((await first.exited).code).toBe(0);
    expect(first.output()).toContain('"stopped"');

    const second = await serve(env);
    // A second process on the same embedded database is refused while the first runs.
    const clash = run(["migrate"], { CHAMICORE_DATA_DIR: dataDir });
    expect((await clash.exited).code).toBe(1);
    expect(clash.output()).toMatch(/embedded database in .* is in use by process \d+; stop it first/);
    // The secret is printed on the first start only.
    expect(second.output()).not.toContain("client secret");
    // The token from before the restart still verifies: the signing key persisted.
    const again = await get(`${second.url}/hsm/v2/State/Components/x1000c0s0b0n0`);
    expect(again.status).toBe(200);
    expect(again.headers.get("etag")).toBe(etag);
    expect(((await again.json()) as { spec: { nid: number } }).spec.nid).toBe(7);
    // A write acknowledged with 201, then the process is killed outright.
    expect(
      (await post(`${second.url}/hsm/v2/State/Components`, { id: "x1000c0s0b0n1", nid: 8 })).status,
    ).toBe(201);
    second.child.kill("SIGKILL");
    await second.exited;

    const third = await serve(env);
    const list = (await (await get(`${third.url}/hsm/v2/State/Components?fields=id,nid`)).json()) as {
      items: { spec: unknown }[];
    };
    expect(list.items.map((i) => i.spec)).toEqual([
      { id: "x1000c0s0b0n0", nid: 7 },
      { id: "x1000c0s0b0n1", nid: 8 },
    ]);
    const iface = (await (
      await get(`${third.url}/hsm/v2/Inventory/EthernetInterfaces?mac=A4-BF-01-38-EE-65`)
    ).json()) as { metadata: { total: number } };
    expect(iface.metadata.total).toBe(1);
    third.child.kill("SIGTERM");
    await third.exited;
  });
});

describe("stopping chamicore serve", () => {
  it("ends cleanly on a SIGTERM that comes while it is still starting, and starts again on the same data", async () => {
    const dataDir = tmp();
    const env = { CHAMICORE_DATA_DIR: dataDir, CHAMICORE_LISTEN: `127.0.0.1:${await freePort()}` };
    const p = run(["serve"], env);
    // Logged before the migrations: the start is under way.
    while (!p.output().includes('"database opened"') && p.child.exitCode === null)
      await new Promise((r) => setTimeout(r, 10));
    p.child.kill("SIGTERM");
    expect(await p.exited, p.output()).toEqual({ code: 0, signal: null });
    expect(p.output()).toContain('"stopped"');
    const again = await serve(env);
    expect((await fetch(`${again.url}/readiness`)).status).toBe(200);
    again.child.kill("SIGTERM");
    expect((await again.exited).code).toBe(0);
  });

  it("stops within seconds while clients keep asking over kept-alive connections", async () => {
    const srv = await serve({ CHAMICORE_DATA_DIR: tmp(), CHAMICORE_LISTEN: `127.0.0.1:${await freePort()}` });
    // Edges ask every second or so (progress, the feed), so at any moment one of their
    // requests may be in flight; fetch keeps each connection alive for the next.
    let asking = true;
    const ask = async () => {
      while (asking)
        await fetch(`${srv.url}/health`).then(
          (r) => r.text(),
          () => undefined,
        );
    };
    const askers = Promise.all([ask(), ask()]);
    await new Promise((r) => setTimeout(r, 500));
    const t0 = Date.now();
    srv.child.kill("SIGTERM");
    const exit = await Promise.race([
      srv.exited,
      new Promise((r) => setTimeout(() => r("still running 8 s after SIGTERM"), 8_000)),
    ]);
    asking = false;
    await askers;
    expect(exit, srv.output()).toEqual({ code: 0, signal: null });
    expect(Date.now() - t0).toBeLessThan(3_000);
  });
});

describe("chamicore with DATABASE_URL", () => {
  it("migrate prepares a fresh database, then serve is ready on it", async () => {
    const db = await createTestDatabase("e2e");
    dbs.push(db);
    const migrate = run(["migrate"], { DATABASE_URL: db.url });
    expect((await migrate.exited).code, migrate.output()).toBe(0);
    expect(migrate.output()).toContain("migrations applied");
    // Running it again is harmless.
    const again = run(["migrate"], { DATABASE_URL: db.url });
    expect((await again.exited).code, again.output()).toBe(0);

    // Without the master key a shared database is refused, naming the variable.
    const refused = run(["serve"], { DATABASE_URL: db.url, CHAMICORE_LISTEN: "127.0.0.1:0" });
    expect((await refused.exited).code).toBe(1);
    expect(refused.output()).toMatch(/CHAMICORE_MASTER_KEY: is required with DATABASE_URL/);

    const srv = await serve({
      DATABASE_URL: db.url,
      CHAMICORE_MASTER_KEY: generateMasterKey(),
      CHAMICORE_LISTEN: `127.0.0.1:${await freePort()}`,
    });
    const ready = await fetch(`${srv.url}/readiness`);
    expect(ready.status).toBe(200);
    expect(srv.output()).not.toContain("postgres:postgres@"); // no credentials in logs
    srv.child.kill("SIGTERM");
    expect((await srv.exited).code).toBe(0);
  });
});

describe("configuration errors", () => {
  it("names the variable and exits 1", async () => {
    const p = run(["serve"], { CHAMICORE_LISTEN: "everywhere", CHAMICORE_DATA_DIR: tmp() });
    expect((await p.exited).code).toBe(1);
    expect(p.output()).toMatch(/CHAMICORE_LISTEN: must be host:port/);
  });

  it("rejects a non-postgres DATABASE_URL", async () => {
    const p = run(["migrate"], { DATABASE_URL: "mysql://db/x" });
    expect((await p.exited).code).toBe(1);
    expect(p.output()).toContain("DATABASE_URL");
  });

  it("explains an unknown command", async () => {
    const p = run(["frobnicate"], {});
    expect((await p.exited).code).toBe(2);
    expect(p.output()).toContain("unknown command 'frobnicate'");
    expect(p.output()).toContain("chamicore --help");
  });
});
