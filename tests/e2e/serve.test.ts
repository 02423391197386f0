/**
 * `chamicore serve` as a user runs it (`npm start` runs the same bin): on the
 * embedded default, data written survives a clean stop and a crash; with
 * DATABASE_URL, `chamicore migrate` prepares the database; bad configuration
 * stops the start with a message naming the variable.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
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

const post = (url: string, body: unknown) =>
  fetch(url, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });

describe("chamicore serve on the embedded database", () => {
  it("keeps data across a clean stop and across a crash", async () => {
    const dataDir = tmp();
    const env = { CHAMICORE_DATA_DIR: dataDir, CHAMICORE_LISTEN: `127.0.0.1:${await freePort()}` };

    const first = await serve(env);
    expect(await (await fetch(`${first.url}/health`)).text()).toBe(`{"status":"ok"}`);
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
    const again = await fetch(`${second.url}/hsm/v2/State/Components/x1000c0s0b0n0`);
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
    const list = (await (await fetch(`${third.url}/hsm/v2/State/Components?fields=id,nid`)).json()) as {
      items: { spec: unknown }[];
    };
    expect(list.items.map((i) => i.spec)).toEqual([
      { id: "x1000c0s0b0n0", nid: 7 },
      { id: "x1000c0s0b0n1", nid: 8 },
    ]);
    const iface = (await (
      await fetch(`${third.url}/hsm/v2/Inventory/EthernetInterfaces?mac=A4-BF-01-38-EE-65`)
    ).json()) as { metadata: { total: number } };
    expect(iface.metadata.total).toBe(1);
    third.child.kill("SIGTERM");
    await third.exited;
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

    const srv = await serve({ DATABASE_URL: db.url, CHAMICORE_LISTEN: `127.0.0.1:${await freePort()}` });
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
    expect(p.output()).toContain("chamicore serve");
  });
});
