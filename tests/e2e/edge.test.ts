/**
 * The edge node as a site runs it: real `chamicore serve` on Postgres, a real
 * nats-server with JetStream, and real `chamicore edge` processes. Changes
 * reach the edge within seconds; the edge keeps serving with the control
 * plane and NATS both down and catches up from its position within seconds
 * of their return, however long they were gone; a `kill -9` in the middle
 * of a burst loses nothing; without NATS it follows the change feed; and it
 * answers exactly what the control plane answers.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  type Api,
  type ControlPlane,
  cleanupAfterAll,
  createEdgeAccount,
  edgeDataDir,
  edgeReady,
  expectReplicaEqualsSnapshot,
  edgeEnv as siteEdgeEnv,
  startEdge as siteStartEdge,
  startControlPlane,
  startServe,
} from "../support/edge-site";
import { eventually, uniqueStream } from "../support/nats";
import { freePort, type Proc } from "../support/process";

const C = "/hsm/v2/State/Components";
const cleanup = cleanupAfterAll();

let site: ControlPlane;
let api: Api;
let edgeCreds: { id: string; secret: string };

async function startControl() {
  site.control = await startServe(cleanup, site.env);
}

/** SIGTERM, and a stop within 15 s (it logs what it still waits for after 10 s). */
async function stopControl() {
  const control = site.control;
  control.child.kill("SIGTERM");
  const stopped = await Promise.race([
    control.exited.then(() => true),
    new Promise<false>((r) => setTimeout(() => r(false), 15_000)),
  ]);
  if (!stopped) control.child.kill("SIGKILL");
  expect(stopped, `the control plane did not stop within 15 s:\n${control.output().slice(-4000)}`).toBe(true);
}

const edgeEnv = (extra: Record<string, string> = {}) =>
  siteEdgeEnv(site, edgeCreds, edgeDataDir(cleanup, "edge"), extra);

const startEdge = (env: Record<string, string>, args: string[] = []) => siteStartEdge(cleanup, env, args);

const script = async (base: string, mac: string) => {
  const res = await fetch(`${base}/boot/v1/bootscript?mac=${mac}`);
  return { status: res.status, kind: res.headers.get("x-chamicore-boot"), text: await res.text() };
};

const metric = async (base: string, name: string) => {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return line ? Number(line.split(" ").at(-1)) : undefined;
};

const status = async (base: string) =>
  (await (await fetch(`${base}/status`)).json()) as { position: number; mode: string };

beforeAll(async () => {
  site = await startControlPlane(cleanup, { database: "edge", ...uniqueStream("edge") });
  api = site.api;
  edgeCreds = await createEdgeAccount(api, "edge-rack1");
  // The cluster: a default, a role's params, and nodes that use each.
  await api("POST", "/boot/v1/bootparams", { isDefault: true, kernelUri: "http://images/default-vmlinuz" });
  await api("POST", "/boot/v1/bootparams", { role: "Compute", kernelUri: "http://images/compute-v1" });
  for (let i = 0; i < 5; i++)
    await api("POST", C, {
      id: `x1000c0s${i}b0n0`,
      nid: i + 1,
      role: i < 3 ? "Compute" : "Service",
      interfaces: [{ macAddress: `02:00:00:00:01:0${i}`, ipAddresses: [{ ipAddress: `10.1.0.${i + 1}` }] }],
    });
  await api("POST", "/cloud-init/payloads", {
    role: "Compute",
    userData: "#cloud-config\npackages: [munge]\n",
  });
});

describe("an edge node following the control plane", () => {
  let e: Proc & { url: string };
  let env: Record<string, string>;

  it("serves a new node within 2 s, follows its role's params, and forgets it when deleted", async () => {
    env = edgeEnv();
    e = await startEdge(env);
    await edgeReady(e);
    await eventually(
      "the first nodes",
      () => script(e.url, "02:00:00:00:01:00"),
      (s) => s.kind === "boot",
    );

    const t0 = Date.now();
    expect(
      (
        await api("POST", C, {
          id: "x2000c0s0b0n0",
          nid: 50,
          role: "Compute",
          interfaces: [{ macAddress: "02:00:00:00:02:00" }],
        })
      ).status,
    ).toBe(201);
    expect(
      (
        await api("POST", "/boot/v1/bootparams", {
          componentId: "x2000c0s0b0n0",
          kernelUri: "http://images/special",
        })
      ).status,
    ).toBe(201);
    const fresh = await eventually(
      "the new node's script",
      () => script(e.url, "02:00:00:00:02:00"),
      (s) => s.text.includes("http://images/special"),
      2000,
    );
    expect(Date.now() - t0).toBeLessThan(2000);
    expect(fresh.kind).toBe("boot");

    const role = (await api("GET", "/boot/v1/bootparams?role=Compute")).json.items[0];
    await api("PATCH", `/boot/v1/bootparams/${role.metadata.id}`, { kernelUri: "http://images/compute-v2" });
    await eventually(
      "the role change",
      () => script(e.url, "02:00:00:00:01:01"),
      (s) => s.text.includes("compute-v2"),
      2000,
    );

    await api("DELETE", `${C}/x2000c0s0b0n0`);
    await eventually(
      "the deletion",
      () => script(e.url, "02:00:00:00:02:00"),
      (s) => s.kind === "wait",
      2000,
    );
    expect((await status(e.url)).mode).toBe("stream");
  });

  // 8 s down, then up to 30 s for the change and 40 s for the stream: more than the default minute.
  it("keeps serving with the control plane and NATS down, then catches up without a snapshot", {
    timeout: 120_000,
  }, async () => {
    await stopControl();
    await site.nats.stop();
    const answers = await Promise.all(
      Array.from({ length: 200 }, (_, i) => script(e.url, `02:00:00:00:01:0${i % 5}`)),
    );
    expect(answers.filter((a) => a.status === 200 && a.kind === "boot")).toHaveLength(200);
    expect((await fetch(`${e.url}/readiness`)).status).toBe(200);
    // Long enough for a doubling backoff from the 0.5 s poll to pass 8 s: the edge must not have one.
    await new Promise((r) => setTimeout(r, 8000));

    await site.nats.start();
    await startControl();
    const back = Date.now();
    const role = (await api("GET", "/boot/v1/bootparams?role=Compute")).json.items[0];
    await api("PATCH", `/boot/v1/bootparams/${role.metadata.id}`, { kernelUri: "http://images/compute-v3" });
    await eventually(
      "the change after the outage",
      () => script(e.url, "02:00:00:00:01:01"),
      (s) => s.text.includes("compute-v3"),
      30_000,
    );
    // Followed within a poll or two of the control plane's return (the probe, then the feed).
    expect(Date.now() - back).toBeLessThan(5000);
    expect(await metric(e.url, "chamicore_edge_snapshots_total")).toBe(1);
    // And back on the stream once NATS answers again (its retry backs off to at most 30 s).
    await eventually(
      "stream mode again",
      async () => (await status(e.url)).mode,
      (m) => m === "stream",
      40_000,
    );
  });

  // The burst is 1,000 sequential API writes: seconds alone, but over a minute when the
  // benchmarks share the two cores, so this test gets more than the default minute.
  it("loses nothing when killed with -9 during a burst of 1,000 changes", { timeout: 240_000 }, async () => {
    const before = (await status(e.url)).position;
    const burst = (async () => {
      for (let i = 0; i < 1000; i++) {
        const id = `x3000c0s${i}b0n0`;
        const r = await api("POST", C, {
          id,
          nid: 1000 + i,
          interfaces: [
            {
              macAddress: `02:00:00:03:${(i >> 8).toString(16).padStart(2, "0")}:${(i & 255).toString(16).padStart(2, "0")}`,
            },
          ],
        });
        if (r.status !== 201) throw new Error(`${id}: ${r.status} ${r.text}`);
      }
    })();
    await eventually(
      "part of the burst applied",
      async () => (await status(e.url)).position,
      (p) => p > before,
      30_000,
    );
    await new Promise((r) => setTimeout(r, 1500));
    e.child.kill("SIGKILL");
    await e.exited;
    await burst;
    e = await startEdge(env);
    const head = (await api("GET", "/events/v1/changes?after=0&limit=1")).json.metadata.head;
    await eventually(
      "the edge caught up",
      async () => (await status(e.url)).position,
      (p) => p >= head,
      120_000,
    );
    // It resumed from its recorded position: no snapshot in this process.
    expect(await metric(e.url, "chamicore_edge_snapshots_total")).toBe(0);
    e.child.kill("SIGTERM");
    await e.exited;

    await expectReplicaEqualsSnapshot(api, env.CHAMICORE_EDGE_DATA_DIR!);
  });

  it("answers byte for byte what the control plane answers (after rebuilding with --resync)", async () => {
    e = await startEdge(env, ["--resync"]);
    expect(e.output()).toContain("--resync: replica cleared");
    await edgeReady(e);
    for (const path of [
      "/boot/v1/bootscript?mac=02:00:00:00:01:00",
      "/boot/v1/bootscript?mac=02:00:00:00:01:04",
      "/boot/v1/bootscript?name=x1000c0s1b0n0",
      "/boot/v1/bootscript?nid=3",
      "/boot/v1/bootscript?mac=02:00:00:00:09:09",
      "/cloud-init/x1000c0s0b0n0/user-data",
      "/cloud-init/x1000c0s0b0n0/meta-data",
      "/cloud-init/x1000c0s4b0n0/vendor-data",
      "/cloud-init/user-data?mac=02:00:00:00:01:02",
    ]) {
      const [a, b] = await Promise.all([fetch(site.control.url + path), fetch(e.url + path)]);
      expect(b.status, path).toBe(a.status);
      expect(b.headers.get("content-type"), path).toBe(a.headers.get("content-type"));
      expect(b.headers.get("etag"), path).toBe(a.headers.get("etag"));
      expect(await b.text(), path).toBe(await a.text());
    }
    expect(await metric(e.url, "chamicore_edge_snapshots_total")).toBe(1);
    e.child.kill("SIGTERM");
    await e.exited;
  });
});

describe("an edge node without NATS", () => {
  it("converges through the change feed", async () => {
    const env = edgeEnv({ NATS_URL: `nats://127.0.0.1:${await freePort()}` });
    const e = await startEdge(env);
    await edgeReady(e);
    await api("POST", C, {
      id: "x4000c0s0b0n0",
      role: "Compute",
      interfaces: [{ macAddress: "02:00:00:04:00:00" }],
    });
    await eventually(
      "the new node through the feed",
      () => script(e.url, "02:00:00:04:00:00"),
      (s) => s.kind === "boot",
      10_000,
    );
    expect((await status(e.url)).mode).toBe("poll");
    expect(await metric(e.url, 'chamicore_edge_feed_mode{mode="poll"}')).toBe(1);
    e.child.kill("SIGTERM");
    await e.exited;
  });
});
