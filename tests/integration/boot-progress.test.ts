/**
 * Boot progress on the control plane, on the Node server (embedded PGlite
 * and Postgres) and on the Worker in workerd on Postgres: an edge's batch moves nodes forward and a
 * resent or older batch moves none back; nodes outside the inventory are
 * left out; `GET /boot/v1/status` counts per stage and filters by stage,
 * rack, group, edge and stuck time; a phone-home sent to the control plane
 * itself is recorded at once; edges' reports are listed, stale once they
 * stop; and only the right scopes reach each route.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Answer,
  type Call,
  nodePgliteTarget,
  nodePostgresTarget,
  type Target,
  tokenFor,
  workerTarget,
} from "../support/targets";

const C = "/hsm/v2/State/Components";
const STATUS = "/boot/v1/status";

function ok(a: Answer, status = 200): Answer {
  expect(a.status, a.text).toBe(status);
  return a;
}

async function account(t: Target, id: string, roles: string[]): Promise<string> {
  const a = ok(await t.call("POST", "/auth/v1/service-accounts", { body: { id, roles } }), 201);
  return tokenFor(t.call, id, a.json.spec.clientSecret);
}

const REPORT = {
  version: "test",
  position: 42,
  head: 42,
  lagEvents: 0,
  lagSeconds: 0,
  mode: "stream",
  lastContact: new Date().toISOString(),
  stalled: null,
  applyOk: true,
  kea: null,
  progress: { pending: 0, dropped: 0, sent: 5 },
};

describe.each([
  ["node+pglite", () => nodePgliteTarget()],
  ["node+postgres", () => nodePostgresTarget()],
  ["workerd+postgres", () => workerTarget()],
])("boot progress on %s", (name, start) => {
  let t: Target;
  let edge: string;
  let viewer: string;
  const ago = (s: number) => new Date(Date.now() - s * 1000).toISOString();
  const as =
    (token: string): Call =>
    (m, p, init = {}) =>
      t.call(m, p, { ...init, token });
  const status = async (q = "") => ok(await as(viewer)("GET", `${STATUS}${q}`)).json;

  beforeAll(async () => {
    t = await start();
    for (const rack of ["x1000", "x1001"])
      for (let s = 0; s < 3; s++)
        ok(
          await t.call("POST", C, {
            body: {
              id: `${rack}c0s${s}b0n0`,
              role: "Compute",
              interfaces: [
                {
                  macAddress: `02:00:00:${rack.slice(-2)}:00:0${s}`,
                  // The Node server sees this test at 127.0.0.1: that node is the caller.
                  ipAddresses: [
                    { ipAddress: rack === "x1001" && s === 1 ? "127.0.0.1" : `10.${s}.0.1${rack.slice(-1)}` },
                  ],
                },
              ],
            },
          }),
          201,
        );
    ok(
      await t.call("POST", "/hsm/v2/groups", {
        body: { name: "gpu", members: ["x1000c0s0b0n0", "x1001c0s0b0n0"] },
      }),
      201,
    );
    edge = await account(t, "edge-rack1", ["edge"]);
    viewer = await account(t, "watcher", ["viewer"]);
  }, 180_000);
  afterAll(() => t?.stop());

  it("records an edge's batch, forward only, inventory nodes only", async () => {
    const batch = {
      edge: "rack1",
      sentAt: new Date().toISOString(),
      events: [
        { node: "x1000c0s0b0n0", stage: "bootscript", at: ago(600), retry: 3 },
        { node: "x1000c0s1b0n0", stage: "meta-data", at: ago(400), address: "10.1.0.10" },
        { node: "x1000c0s2b0n0", stage: "phone-home", at: ago(10) },
        { node: "x1001c0s0b0n0", stage: "user-data", at: ago(30) },
        { node: "x1001c0s1b0n0", stage: "bootscript", at: ago(5), retry: 0 },
        { node: "x9999c0s0b0n0", stage: "bootscript", at: ago(5), retry: 0 },
      ],
    };
    expect(ok(await as(edge)("POST", "/boot/v1/progress", { body: batch })).json).toEqual({
      accepted: 6,
      applied: 5,
    });
    // The same batch again, and an older stage of a node that has moved on: nothing moves.
    expect(ok(await as(edge)("POST", "/boot/v1/progress", { body: batch })).json.applied).toBe(0);
    const late = {
      edge: "rack1",
      sentAt: new Date().toISOString(),
      events: [{ node: "x1000c0s2b0n0", stage: "bootscript", at: ago(20), retry: 1 }],
    };
    expect(ok(await as(edge)("POST", "/boot/v1/progress", { body: late })).json.applied).toBe(0);

    const all = await status();
    expect(all.metadata.counts).toEqual({
      bootscript: 2,
      artifacts: 0,
      "meta-data": 1,
      "user-data": 1,
      "vendor-data": 0,
      "phone-home": 1,
    });
    expect(all.metadata.total).toBe(5);
    // Oldest first: the longest stuck lead.
    expect(all.items.map((i: { id: string }) => i.id)).toEqual([
      "x1000c0s0b0n0",
      "x1000c0s1b0n0",
      "x1001c0s0b0n0",
      "x1000c0s2b0n0",
      "x1001c0s1b0n0",
    ]);
    expect(all.items[0]).toMatchObject({ stage: "bootscript", edge: "rack1", retry: 3, rack: "x1000" });
    expect(all.items[0].stuckSeconds).toBeGreaterThanOrEqual(599);
    expect(all.items[3]).toMatchObject({ id: "x1000c0s2b0n0", stage: "phone-home", stuckSeconds: null });
  });

  it("filters by stuck time, stage, rack, group and edge; counts follow the population filters", async () => {
    const ids = (doc: { items: { id: string }[] }) => doc.items.map((i) => i.id);
    expect(ids(await status("?stuckFor=60"))).toEqual(["x1000c0s0b0n0", "x1000c0s1b0n0"]);
    expect(ids(await status("?stuckFor=0&sort=id"))).toEqual([
      "x1000c0s0b0n0",
      "x1000c0s1b0n0",
      "x1001c0s0b0n0",
      "x1001c0s1b0n0",
    ]);
    expect(ids(await status("?stage=phone-home&stuckFor=0"))).toEqual([]);
    expect(ids(await status("?stage=bootscript,meta-data&sort=-at"))).toEqual([
      "x1001c0s1b0n0",
      "x1000c0s1b0n0",
      "x1000c0s0b0n0",
    ]);
    const rack = await status("?rack=x1001");
    expect(ids(rack)).toEqual(["x1001c0s0b0n0", "x1001c0s1b0n0"]);
    expect(rack.metadata.counts).toMatchObject({ bootscript: 1, "user-data": 1, "phone-home": 0 });
    expect(ids(await status("?group=gpu"))).toEqual(["x1000c0s0b0n0", "x1001c0s0b0n0"]);
    expect((await status("?edge=rack2")).metadata.total).toBe(0);
    const page = await status("?limit=2&offset=1&fields=id,stage");
    expect(page.metadata).toMatchObject({ total: 5, limit: 2, offset: 1 });
    expect(page.items).toEqual([
      { id: "x1000c0s1b0n0", stage: "meta-data" },
      { id: "x1001c0s0b0n0", stage: "user-data" },
    ]);
    expect(ok(await as(viewer)("GET", `${STATUS}?stage=dhcp`), 400).json.errors[0].field).toBe("stage");
  });

  it("records a phone-home sent to the control plane itself", async () => {
    // cloud-init posts a form; the Node server finds the node by the caller's address, the Worker here by ?mac=.
    const path = name.startsWith("node")
      ? "/cloud-init/phone-home"
      : "/cloud-init/phone-home?mac=02:00:00:01:00:01";
    const a = await t.call("POST", path, {
      token: null,
      body: "instance_id=iid-x1001c0s1b0n0&hostname=x1001c0s1b0n0&pub_key_ed25519=ssh-ed25519+AAAA",
      headers: { "Content-Type": "application/x-www-form-urlencoded" },
    });
    ok(a, 204);
    const node = (await status("?id=x1001c0s1b0n0")).items[0];
    expect(node).toMatchObject({ stage: "phone-home", edge: null, retry: 0, stuckSeconds: null });
    ok(await t.call("POST", "/cloud-init/phone-home?mac=02:00:00:99:99:99", { token: null }), 404);
  });

  it("lists the edges' reports, stale once they stop", async () => {
    ok(await as(edge)("PUT", "/events/v1/edges/rack1", { body: REPORT }), 204);
    const list = ok(await as(viewer)("GET", "/events/v1/edges")).json;
    expect(list.items).toEqual([expect.objectContaining({ name: "rack1", stale: false, position: 42 })]);
    // Ageing the report needs the database's own hand: PGlite is inside the server.
    if (!t.databaseUrl) return;
    const db = new pg.Client({ connectionString: t.databaseUrl });
    await db.connect();
    try {
      await db.query(`update events.edges set reported_at = now() - interval '1 minute'`);
    } finally {
      await db.end();
    }
    expect(ok(await as(viewer)("GET", "/events/v1/edges")).json.items[0].stale).toBe(true);
  });

  it("lets only edges post and only readers read", async () => {
    const batch = { edge: "rack1", sentAt: new Date().toISOString(), events: [] };
    ok(await as(viewer)("POST", "/boot/v1/progress", { body: batch }), 403);
    ok(await as(viewer)("PUT", "/events/v1/edges/rack1", { body: REPORT }), 403);
    ok(await t.call("POST", "/boot/v1/progress", { body: batch, token: null }), 401);
    ok(await as(edge)("GET", STATUS), 403);
    ok(await t.call("GET", "/events/v1/edges", { token: null }), 401);
    ok(await as(edge)("POST", "/boot/v1/progress", { body: { ...batch, edge: "../x" } }), 422);
  });
});
