/**
 * Power control and discovery through an edge site, as a site runs it: real `chamicore
 * serve` on Postgres, real NATS JetStream, a real `chamicore edge` process
 * for site `east`, and 100 emulated BMCs whose endpoints say `site: east`.
 * The control plane hands the tasks to the site over the work stream; the
 * edge runs them within its limits and reports back. Shown: a bulk
 * transition over 100 BMCs with per-node results, one request per BMC and
 * the edge's global limit; a dry run that touches no BMC; a stuck BMC
 * failing at its deadline; an abort mid-flight; and a `kill -9` of the edge
 * mid-transition after which every task ends final; a second edge of the
 * site sharing the work, each transition run once. Then a discovery scan
 * of the site's targets: the edge reads the BMCs, the control plane merges
 * what it found.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { generateMasterKey, randomSecret } from "../../shared/auth/crypto";
import {
  type BmcFleet,
  currentSeq,
  type EmulatedBmc,
  maxConcurrency,
  startBmc,
  startBmcs,
} from "../support/bmc";
import {
  cleanupAfterAll,
  createEdgeAccount,
  edgeDataDir,
  startEdge as startSiteEdge,
} from "../support/edge-site";
import { deleteStream, eventually, SHARED_NATS_URL, uniqueStream } from "../support/nats";
import { createTestDatabase } from "../support/postgres";
import { freePort, type Proc, run, serve } from "../support/process";
import { tokenFor, urlCall } from "../support/targets";

const FLEET = 100;
const CONCURRENCY = 8;
const T = "/power/v1/transitions";
const bmcId = (i: number) => `x3000c0s${i}b0`;
const nodeId = (i: number) => `${bmcId(i)}n0`;

const cleanup = cleanupAfterAll();

let control: Proc & { url: string };
let fleet: BmcFleet;
let token = "";
let edgeEnv: Record<string, string>;
let e: Proc & { url: string };
const { stream, prefix } = uniqueStream("edgepower");

/** The control API as the operator `ops`. */
const api = (method: string, path: string, body?: unknown) =>
  urlCall(control.url)(method, path, { body, token });

const startEdge = () => startSiteEdge(cleanup, edgeEnv);

/** Polls the transition until it is completed or aborted. */
async function settled(id: string, timeoutMs = 60_000) {
  return eventually(
    `transition ${id} to end`,
    async () => (await api("GET", `${T}/${id}`)).json.spec,
    (s) => s.state === "completed" || s.state === "aborted",
    timeoutMs,
  );
}

const since = (bmcs: EmulatedBmc[], from: number) =>
  bmcs.map((b) => ({ ...b, requests: b.requests.filter((r) => r.seq > from) }) as unknown as EmulatedBmc);

beforeAll(async () => {
  const db = await createTestDatabase("edgepower");
  cleanup.push(() => db.drop());
  // BMCs 10–29 take 2 s to change power: long enough to kill the edge in the middle.
  fleet = await startBmcs(FLEET, (i) => ({
    initialPowerState: "Off",
    latencyMs: 5,
    powerDelayMs: i >= 10 && i < 30 ? 2_000 : 50,
  }));
  cleanup.push(() => fleet.close());
  const secret = randomSecret(24);
  control = await serve({
    DATABASE_URL: db.url,
    CHAMICORE_MASTER_KEY: generateMasterKey(),
    CHAMICORE_BOOTSTRAP_CLIENT_ID: "ops",
    CHAMICORE_BOOTSTRAP_CLIENT_SECRET: secret,
    CHAMICORE_LISTEN: `127.0.0.1:${await freePort()}`,
    NATS_URL: SHARED_NATS_URL,
    CHAMICORE_NATS_STREAM: stream,
    CHAMICORE_NATS_SUBJECT_PREFIX: prefix,
    CHAMICORE_POWER_MAX_NODES: String(FLEET),
  });
  cleanup.push(() => control.child.kill("SIGKILL"));
  cleanup.push(() => deleteStream(SHARED_NATS_URL, stream));
  token = await tokenFor(urlCall(control.url), "ops", secret);
  const creds = await createEdgeAccount(api, "edge-east");
  edgeEnv = {
    CHAMICORE_CONTROL_URL: control.url,
    CHAMICORE_EDGE_CLIENT_ID: creds.id,
    CHAMICORE_EDGE_CLIENT_SECRET: creds.secret,
    CHAMICORE_EDGE_DATA_DIR: edgeDataDir(cleanup, "edge-power"),
    CHAMICORE_EDGE_NAME: "east-1",
    CHAMICORE_EDGE_SITE: "east",
    CHAMICORE_NATS_STREAM: stream,
    CHAMICORE_NATS_SUBJECT_PREFIX: prefix,
    NATS_URL: SHARED_NATS_URL,
    CHAMICORE_POWER_CONCURRENCY: String(CONCURRENCY),
    CHAMICORE_POWER_POLL_SECONDS: "0.05",
  };

  expect(
    (
      await api("POST", "/auth/v1/credentials", {
        id: "bmc-cred",
        name: "BMCs",
        type: "redfish",
        username: "admin",
        secret: "password",
      })
    ).status,
  ).toBe(201);
  const components = Array.from({ length: FLEET }, (_, i) => [
    { id: bmcId(i), type: "NodeBMC" },
    { id: nodeId(i), type: "Node", parentId: bmcId(i), state: "Off", role: "Compute" },
  ]).flat();
  expect((await api("POST", "/hsm/v2/import", { components })).status).toBe(201);
  for (let i = 0; i < FLEET; i++) {
    const r = await api("POST", "/power/v1/bmcs", {
      id: bmcId(i),
      address: fleet.urls[i],
      credentialId: "bmc-cred",
      site: "east",
    });
    expect(r.status, r.text).toBe(201);
  }
  e = await startEdge();
}, 180_000);

describe.sequential("power through an edge site", () => {
  it("runs a bulk transition over 100 BMCs on the edge: per-node results, one request per BMC, the edge's limit", async () => {
    const from = currentSeq();
    const created = await api("POST", T, {
      operation: "on",
      location: Array.from({ length: FLEET }, (_, i) => ({ xname: nodeId(i) })),
      taskDeadlineMinutes: 1,
    });
    expect(created.status, created.text).toBe(201);
    expect(created.json.spec.tasks.every((t: { site: string }) => t.site === "east")).toBe(true);
    const done = await settled(created.json.metadata.id);
    expect(done.state).toBe("completed");
    expect(done.taskCounts).toMatchObject({ total: FLEET, succeeded: FLEET });
    expect(done.tasks.map((t: { xname: string }) => t.xname)).toEqual(
      Array.from({ length: FLEET }, (_, i) => nodeId(i)),
    );
    for (const t of done.tasks) expect(t).toMatchObject({ state: "succeeded", powerState: "On" });
    for (const b of fleet.bmcs) {
      expect(b.powerState()).toBe("On");
      expect(maxConcurrency(since([b], from))).toBe(1);
    }
    const overall = maxConcurrency(since(fleet.bmcs, from));
    expect(overall).toBeLessThanOrEqual(CONCURRENCY);
    expect(overall).toBeGreaterThan(1);
    const { agent } = (await (await fetch(`${e.url}/status`)).json()) as { agent: { finished: number } };
    expect(agent).toMatchObject({ site: "east", state: "taking work", running: 0 });
    expect(agent.finished).toBeGreaterThanOrEqual(1);
    // The edge ran them (its log names the transition), and the inventory followed.
    expect(e.output()).toContain(created.json.metadata.id);
    for (const i of [0, 42, 99])
      expect((await api("GET", `/hsm/v2/State/Components/${nodeId(i)}`)).json.spec.state).toBe("On");
  });

  it("dry-runs without touching any BMC", async () => {
    const from = currentSeq();
    const r = await api("POST", "/power/v1/actions/off", {
      nodes: Array.from({ length: 10 }, (_, i) => nodeId(i)),
      dryRun: true,
    });
    expect(r.status, r.text).toBe(201);
    expect(r.json.spec.state).toBe("completed");
    expect(r.json.spec.taskCounts).toMatchObject({ total: 10, planned: 10 });
    await new Promise((res) => setTimeout(res, 1500));
    expect(fleet.bmcs.flatMap((b) => b.requests.filter((q) => q.seq > from))).toEqual([]);
    expect(fleet.bmcs[0]!.powerState()).toBe("On");
  });

  it("fails a task whose BMC never reaches the state, at its deadline, with the reason", async () => {
    const stuck = fleet.bmcs[3]!;
    stuck.setFaults({ stuck: true });
    try {
      const r = await api("POST", T, {
        operation: "off",
        location: [{ xname: nodeId(3) }],
        taskDeadlineMinutes: 0.02,
      });
      expect(r.status, r.text).toBe(201);
      const done = await settled(r.json.metadata.id);
      expect(done.state).toBe("completed");
      expect(done.tasks[0]).toMatchObject({ state: "failed", powerState: "On" });
      expect(done.tasks[0].message).toBe("did not reach Off within 1.2 s (last PowerState: On)");
      expect((await api("GET", `/hsm/v2/State/Components/${nodeId(3)}`)).json.spec.state).toBe("On");
    } finally {
      stuck.setFaults({});
    }
  });

  it("aborts mid-flight: the edge stops the running task and reports it", async () => {
    const stuck = fleet.bmcs[4]!;
    stuck.setFaults({ stuck: true });
    try {
      const base = stuck.resets.length;
      const r = await api("POST", T, {
        operation: "off",
        location: [{ xname: nodeId(4) }],
        taskDeadlineMinutes: 1,
      });
      const id = r.json.metadata.id;
      await eventually(
        "the Reset to be sent",
        async () => stuck.resets.length,
        (n) => n > base,
        20_000,
      );
      const abort = await api("DELETE", `${T}/${id}`);
      expect(abort.status, abort.text).toBe(202);
      expect(abort.json.spec.state).toBe("abort-signaled");
      const done = await settled(id, 20_000);
      expect(done.state).toBe("aborted");
      expect(done.tasks[0].state).toBe("aborted");
      expect(done.tasks[0].message).toMatch(/^aborted while verifying ForceOff/);
      expect(stuck.resets.slice(base).map((x) => x.resetType)).toEqual(["ForceOff"]);
    } finally {
      stuck.setFaults({});
    }
  });

  it("ends every task final after the edge is killed with -9 mid-transition and restarted", async () => {
    const rack = fleet.bmcs.slice(10, 30);
    {
      const base = rack.reduce((n, b) => n + b.resets.length, 0);
      const r = await api("POST", "/power/v1/actions/off", {
        nodes: Array.from({ length: 20 }, (_, i) => nodeId(10 + i)),
        taskDeadlineMinutes: 0.5,
      });
      expect(r.status, r.text).toBe(201);
      const id = r.json.metadata.id;
      await eventually(
        "some Resets sent",
        async () => rack.reduce((n, b) => n + b.resets.length, 0),
        (n) => n > base,
        20_000,
      );
      e.child.kill("SIGKILL");
      await e.exited;
      const mid = (await api("GET", `${T}/${id}`)).json.spec;
      expect(mid.taskCounts["in-progress"]).toBeGreaterThan(0);
      e = await startEdge();
      // NATS hands the unacknowledged message to the restarted edge after its ack wait (30 s).
      const done = await settled(id, 90_000);
      expect(done.state).toBe("completed");
      expect(done.taskCounts["in-progress"]).toBe(0);
      expect(done.taskCounts.new).toBe(0);
      for (const t of done.tasks) {
        expect(["succeeded", "failed"]).toContain(t.state);
        expect(t.message.length).toBeGreaterThan(0);
      }
      expect(done.taskCounts.succeeded).toBe(20);
      for (const b of rack) expect(b.powerState()).toBe("Off");
    }
  }, 150_000);

  it("with two edges on one site, runs each transition on exactly one of them", async () => {
    const second = await startSiteEdge(cleanup, {
      ...edgeEnv,
      CHAMICORE_EDGE_NAME: "east-2",
      CHAMICORE_EDGE_DATA_DIR: edgeDataDir(cleanup, "edge-power-2"),
    });
    await eventually(
      "the second edge taking work",
      async () =>
        ((await (await fetch(`${second.url}/status`)).json()) as { agent?: { state: string } }).agent?.state,
      (st) => st === "taking work",
      20_000,
    );
    const rack = fleet.bmcs.slice(40, 80);
    const base = rack.map((b) => b.resets.length);
    // Eight transitions of five nodes, at once: eight messages for the two edges to share.
    const ids = await Promise.all(
      Array.from({ length: 8 }, async (_, k) => {
        const r = await api("POST", "/power/v1/actions/off", {
          nodes: Array.from({ length: 5 }, (_, j) => nodeId(40 + k * 5 + j)),
        });
        expect(r.status, r.text).toBe(201);
        return r.json.metadata.id as string;
      }),
    );
    for (const id of ids) {
      const done = await settled(id);
      expect(done.taskCounts).toMatchObject({ total: 5, succeeded: 5 });
    }
    rack.forEach((b, i) => {
      expect(b.resets.slice(base[i]).map((x) => x.resetType)).toEqual(["ForceOff"]);
      expect(b.powerState()).toBe("Off");
    });
    // Each transition was run by one edge: its id is in exactly one edge's log.
    for (const id of ids) expect([e.output(), second.output()].filter((o) => o.includes(id))).toHaveLength(1);
    second.child.kill("SIGTERM");
    expect((await second.exited).code).toBe(0);
  });

  it("runs a discovery scan of the site's targets: the edge reads, the control plane merges", async () => {
    const rack = await startBmc({ mockup: "public-rackmount1" });
    const tower = await startBmc({ mockup: "public-tower" });
    cleanup.push(() => rack.close());
    cleanup.push(() => tower.close());
    const RACK = "x5000c0s0b0";
    await api("POST", "/auth/v1/credentials", {
      id: "bad-cred",
      name: "wrong",
      type: "redfish",
      username: "admin",
      secret: "nope",
    });
    for (const [id, url, cred] of [
      ["east-rack", rack.url, "bmc-cred"],
      ["east-tower", tower.url, "bad-cred"],
    ] as const) {
      const r = await api("POST", "/discovery/v1/targets", {
        id,
        addresses: [url],
        credentialId: cred,
        site: "east",
        options: { naming: { map: { "127.0.0.1": id === "east-rack" ? RACK : "x5000c0s1b0" } } },
      });
      expect(r.status, r.text).toBe(201);
    }
    const started = await api("POST", "/discovery/v1/scans", { targets: ["east-rack", "east-tower"] });
    expect(started.status, started.text).toBe(201);
    const id = started.json.metadata.id;
    const done = await eventually(
      "the scan to end",
      async () => (await api("GET", `/discovery/v1/scans/${id}`)).json.spec,
      (s) => ["completed", "failed", "cancelled"].includes(s.state),
      30_000,
    );
    expect(done).toMatchObject({
      state: "completed",
      site: "east",
      message: "1 address(es) scanned, 1 failed",
    });
    const [r, w] = done.results;
    expect(r).toMatchObject({
      targetId: "east-rack",
      state: "ok",
      bmcId: RACK,
      bmcEndpoint: "created",
      error: null,
    });
    expect(r.created).toEqual(expect.arrayContaining([RACK, `${RACK}n0`]));
    expect(w).toMatchObject({ targetId: "east-tower", state: "failed", created: [] });
    expect(w.error).toMatch(/refused the credential 'bad-cred' \(HTTP 401\)/);
    // Found through the edge (its log names the scan), merged by the control plane.
    expect(e.output()).toContain(id);
    const node = (await api("GET", `/hsm/v2/State/Components/${RACK}n0`)).json.spec;
    expect(node).toMatchObject({ type: "Node", state: "On", parentId: RACK });
    const macs = (await api("GET", `/hsm/v2/Inventory/EthernetInterfaces?componentId=${RACK}n0`)).json.items
      .map((i: { spec: { macAddress: string } }) => i.spec.macAddress)
      .sort();
    expect(macs).toEqual(["12:44:6a:3b:04:11", "aa:bb:cc:dd:ee:00"]);
    // The BMC it found is a power endpoint of the same site.
    expect((await api("GET", `/power/v1/bmcs/${RACK}`)).json.spec).toMatchObject({
      address: rack.url,
      site: "east",
    });
  });

  it("chamicore edge status shows the site's agent", async () => {
    const r = run(["edge", "status", "--url", e.url, "-o", "json"], {});
    expect(await r.exited).toEqual({ code: 0, signal: null });
    const s = JSON.parse(r.output());
    expect(s.agent).toMatchObject({ site: "east", state: "taking work", running: 0, failed: 0 });
    // Since the restart at least the transition re-delivered after the kill, and the scan.
    expect(s.agent.finished).toBeGreaterThanOrEqual(2);
  });

  it("stops cleanly on SIGTERM", async () => {
    e.child.kill("SIGTERM");
    expect((await e.exited).code).toBe(0);
  });
});
