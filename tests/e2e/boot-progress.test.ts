/**
 * A scripted boot of 1,000 simulated nodes through a real edge, reported to
 * a real control plane (`chamicore serve` on Postgres, a real nats-server):
 * a fifth stop after the boot script, a fifth after fetching their kernel
 * (an uploaded artifact, served from the edge's cache), a fifth after
 * meta-data, a fifth after user-data, and the rest phone home. Each node fetches its documents
 * and phones home from an address of its own (127.10.x.y: Linux answers for
 * all of 127/8), so the edge finds it by its address as it would on a rack.
 * `chamicore boot status` (the real CLI) then counts exactly that and names
 * exactly the stuck nodes; `boot watch` redraws until Ctrl-C; `edge list`
 * shows the edge. With the control plane stopped, the edge keeps what the
 * nodes do and the control plane has it within seconds of its return.
 */
import { createHash, randomBytes } from "node:crypto";
import { request } from "node:http";
import { beforeAll, describe, expect, it } from "vitest";
import type { RecorderStatus } from "../../edge-node/progress/recorder";
import { type CliResult, runChamicore } from "../support/cli";
import {
  type ControlPlane,
  cleanupAfterAll,
  createEdgeAccount,
  edgeDataDir,
  edgeEnv,
  edgeReady,
  PUBLIC,
  startControlPlane,
  startEdge,
  startServe,
} from "../support/edge-site";
import { eventually, uniqueStream } from "../support/nats";
import { BIN, spawnProc } from "../support/process";
import { tokenFor, urlCall } from "../support/targets";

const NODES = 1000;
const cleanup = cleanupAfterAll();

interface SimNode {
  i: number;
  id: string;
  mac: string;
  ip: string;
}

/** Node `i`: four racks (cabinets x1000–x1003) of 250, each at an address of its own. */
function simNode(i: number): SimNode {
  const r = i % 250;
  const hex = (n: number) => n.toString(16).padStart(2, "0");
  return {
    i,
    id: `x${1000 + Math.floor(i / 250)}c${Math.floor(r / 32)}s${r % 32}b0n0`,
    mac: `02:10:00:00:${hex(i >> 8)}:${hex(i & 255)}`,
    ip: `127.10.${Math.floor(i / 200)}.${(i % 200) + 1}`,
  };
}
const nodes = Array.from({ length: NODES }, (_, i) => simNode(i));

/** Where node `i` stops: 0 after its boot script, 1 after its kernel, 2 after meta-data, 3 after user-data, 4 phones home. */
const plan = (n: SimNode) => n.i % 5;
const DONE = 4;

/** The nodes' kernel: uploaded to the control plane, cached by the edge. */
const KERNEL = randomBytes(256 * 1024);
const KERNEL_SHA = createHash("sha256").update(KERNEL).digest("hex");
const KERNEL_PATH = `/boot/v1/artifacts/${KERNEL_SHA}/vmlinuz-progress`;

let site: ControlPlane;
let edgeUrl: string;
let cliEnv: Record<string, string>;

/** One HTTP request from the node's own address; the answer's status. */
function from(n: SimNode, method: "GET" | "POST", path: string, body?: string): Promise<number> {
  const url = new URL(path, edgeUrl);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname + url.search,
        method,
        localAddress: n.ip,
        agent: false,
        headers: body ? { "Content-Type": "application/x-www-form-urlencoded" } : {},
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

/** Each step of a node's boot that it gets to, in order, each answered as it should be. */
async function bootSteps(n: SimNode, steps: string[]) {
  for (const step of steps) {
    const status =
      step === "phone-home"
        ? await from(n, "POST", "/cloud-init/phone-home", `instance_id=iid-${n.id}&hostname=${n.id}`)
        : step.startsWith("bootscript")
          ? await from(n, "GET", `/boot/v1/bootscript?mac=${n.mac}&retry=${step.split(":")[1]}`)
          : step === "artifacts"
            ? await from(n, "GET", KERNEL_PATH)
            : await from(n, "GET", `/cloud-init/${step}`);
    expect(status, `${n.id} ${step}`).toBe(step === "phone-home" ? 204 : 200);
  }
}

/** Runs `f` over `items`, `width` at a time. */
async function pool<T>(items: T[], width: number, f: (t: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < items.length) await f(items[next++]!);
    }),
  );
}

// biome-ignore lint/suspicious/noExplicitAny: the API's documents are inspected freely.
const statusOf = async (q = ""): Promise<any> => (await site.api("GET", `/boot/v1/status${q}`)).json;

const cli = (args: string[]): Promise<CliResult> => runChamicore(args, { env: cliEnv });

beforeAll(async () => {
  site = await startControlPlane(cleanup, { database: "progress", ...uniqueStream("progress") });
  const imp = await site.api("POST", "/hsm/v2/import", {
    components: nodes.map((n) => ({
      id: n.id,
      role: "Compute",
      interfaces: [{ macAddress: n.mac, ipAddresses: [{ ipAddress: n.ip }] }],
    })),
  });
  expect(imp.status, imp.text).toBeLessThan(300);
  const registered = await site.api("POST", "/boot/v1/artifacts", {
    name: "vmlinuz-progress",
    sha256: KERNEL_SHA,
    size: KERNEL.length,
    kind: "kernel",
  });
  expect(registered.status, registered.text).toBe(201);
  const uploaded = await fetch(`${site.control.url}/boot/v1/artifacts/vmlinuz-progress/content`, {
    method: "PUT",
    headers: { Authorization: `Bearer ${site.token}`, "Content-Type": "application/octet-stream" },
    body: KERNEL,
  });
  expect(uploaded.status, await uploaded.text()).toBe(200);
  expect(
    (
      await site.api("POST", "/boot/v1/bootparams", {
        role: "Compute",
        kernel: { artifact: "vmlinuz-progress" },
      })
    ).status,
  ).toBe(201);
  expect(
    (
      await site.api("POST", "/cloud-init/payloads", {
        role: "Compute",
        userData:
          "#cloud-config\nphone_home: {url: 'http://boot.example:8081/cloud-init/phone-home', post: all}\n",
        vendorData: "#cloud-config\n{}\n",
      })
    ).status,
  ).toBe(201);
  // The first rack's first 50 nodes make a group, to filter by.
  expect(
    (
      await site.api("POST", "/hsm/v2/groups", {
        name: "canary",
        members: nodes.slice(0, 50).map((n) => n.id),
      })
    ).status,
  ).toBe(201);
  const creds = await createEdgeAccount(site.api, "edge-rack1");
  const edge = await startEdge(
    cleanup,
    edgeEnv(site, creds, edgeDataDir(cleanup, "progress"), { CHAMICORE_EDGE_NAME: "rack1" }),
  );
  edgeUrl = edge.url;
  await edgeReady(edge);
  // The whole inventory on the edge, and the kernel in its cache: the last node boots from the edge's copy.
  await eventually(
    "the edge to know every node and hold its kernel",
    async () => (await fetch(`${edgeUrl}/boot/v1/bootscript?mac=${nodes.at(-1)!.mac}`)).text(),
    (script) => script.includes(`kernel --name kernel ${PUBLIC}${KERNEL_PATH} `),
  );
  const token = await tokenFor(urlCall(site.control.url), "ops", site.env.CHAMICORE_BOOTSTRAP_CLIENT_SECRET!);
  cliEnv = { CHAMICORE_ENDPOINT: site.control.url, CHAMICORE_TOKEN: token };
}, 120_000);

const STEPS = [
  ["bootscript:0"],
  ["bootscript:0", "artifacts"],
  ["bootscript:0", "artifacts", "meta-data"],
  ["bootscript:0", "artifacts", "meta-data", "user-data"],
  ["bootscript:0", "artifacts", "meta-data", "user-data", "vendor-data", "phone-home"],
];

describe("boot progress of 1,000 nodes", () => {
  it("counts each stage exactly and names the stuck nodes (chamicore boot status)", async () => {
    await pool(nodes, 50, (n) =>
      // Every tenth node's first script failed (all of them stop there): it came back with retry=2.
      bootSteps(n, n.i % 10 === 0 ? ["bootscript:0", "bootscript:2"] : STEPS[plan(n)]!),
    );
    const expected = {
      bootscript: 200,
      artifacts: 200,
      "meta-data": 200,
      "user-data": 200,
      "vendor-data": 0,
      "phone-home": 200,
    };
    await eventually(
      "the edge's batches at the control plane",
      async () => (await statusOf("?limit=1")).metadata.counts,
      (c) => JSON.stringify(c) === JSON.stringify(expected),
    );

    const stuck = nodes.filter((n) => plan(n) !== DONE);
    const json = await cli(["boot", "status", "--stuck", "0", "--limit", "1000", "-o", "json"]);
    expect(json.code, json.stderr).toBe(0);
    const doc = JSON.parse(json.stdout);
    expect(doc.metadata.counts).toEqual(expected);
    expect(doc.metadata.total).toBe(800);
    expect(doc.items.map((i: { id: string }) => i.id).sort()).toEqual(stuck.map((n) => n.id).sort());
    const byId = new Map(doc.items.map((i: { id: string }) => [i.id, i]));
    expect(byId.get(nodes[0]!.id)).toMatchObject({
      stage: "bootscript",
      retry: 2,
      edge: "rack1",
      rack: "x1000",
    });
    expect(byId.get(nodes[1]!.id)).toMatchObject({ stage: "artifacts", retry: 0, address: nodes[1]!.ip });
    expect(byId.get(nodes[2]!.id)).toMatchObject({ stage: "meta-data", retry: 0, address: nodes[2]!.ip });

    const table = await cli(["boot", "status", "--stuck", "0", "--limit", "1000", "-o", "table"]);
    expect(table.code, table.stderr).toBe(0);
    const lines = table.stdout.split("\n");
    for (const [stage, n] of Object.entries({ ...expected, total: 1000 }))
      expect(lines, stage).toContainEqual(expect.stringMatching(new RegExp(`^${stage}\\s+${n}$`)));
    expect(table.stdout).toContain("STUCK (800 at a stage short of phone-home for 0 s or more)");
    const named = new Set(lines.map((l) => l.split(/\s+/)[0]));
    for (const n of nodes) expect(named.has(n.id), n.id).toBe(plan(n) !== DONE);

    // Filters as flags: one rack; the canary group, stuck at user-data.
    const rack = JSON.parse(
      (await cli(["boot", "status", "--rack", "x1003", "--stuck", "0", "-o", "json"])).stdout,
    );
    const inRack = nodes.filter((n) => n.i >= 750);
    const atPlan = (p: number) => inRack.filter((n) => plan(n) === p).length;
    expect(rack.metadata.counts).toEqual({
      bootscript: atPlan(0),
      artifacts: atPlan(1),
      "meta-data": atPlan(2),
      "user-data": atPlan(3),
      "vendor-data": 0,
      "phone-home": atPlan(DONE),
    });
    const canary = JSON.parse(
      (
        await cli([
          "boot",
          "status",
          "--group",
          "canary",
          "--stage",
          "user-data",
          "--stuck",
          "0",
          "-o",
          "json",
        ])
      ).stdout,
    );
    expect(canary.items.map((i: { id: string }) => i.id).sort()).toEqual(
      nodes
        .slice(0, 50)
        .filter((n) => plan(n) === 3)
        .map((n) => n.id)
        .sort(),
    );
    // The default threshold is five minutes: none of these are stuck yet.
    expect(JSON.parse((await cli(["boot", "status", "-o", "json"])).stdout).metadata.total).toBe(0);
  });

  it("redraws with boot watch until Ctrl-C", async () => {
    const watch = spawnProc(process.execPath, [BIN, "boot", "watch", "--interval", "0.5", "-o", "table"], {
      ...cliEnv,
    });
    await eventually(
      "two rounds",
      async () => watch.output().split("\n# ").length,
      (n) => n >= 3,
    );
    watch.child.kill("SIGINT");
    expect((await watch.exited).code).toBe(0);
    expect(watch.output()).toMatch(/^phone-home\s+200$/m);
  });

  it("keeps progress while the control plane is down and delivers it when it returns", async () => {
    site.control.child.kill("SIGTERM");
    await site.control.exited;
    // The nodes at meta-data finish their boot with the uplink gone.
    const late = nodes.filter((n) => plan(n) === 2);
    await pool(late, 50, (n) => bootSteps(n, ["user-data", "vendor-data", "phone-home"]));
    const kept = await eventually(
      "the edge to say it keeps them",
      async () =>
        ((await (await fetch(`${edgeUrl}/status`)).json()) as { progress: RecorderStatus }).progress,
      (p) => p.pending === late.length && p.failing !== null,
      30_000,
    );
    expect(kept.dropped).toBe(0);

    site.control = await startServe(cleanup, site.env);
    const t0 = Date.now();
    const counts = await eventually(
      "the kept progress at the control plane",
      async () => (await statusOf("?limit=1")).metadata.counts,
      (c) => c["phone-home"] === 200 + late.length,
      30_000,
    );
    const deliveredMs = Date.now() - t0;
    console.log("boot progress kept through the outage:", { nodes: late.length, deliveredMs });
    // Sent each second: seconds, even on a loaded machine, not the minutes of a backoff.
    expect(deliveredMs).toBeLessThan(20_000);
    expect(counts).toEqual({
      bootscript: 200,
      artifacts: 200,
      "meta-data": 200 - late.length,
      "user-data": 200,
      "vendor-data": 0,
      "phone-home": 200 + late.length,
    });

    const listed = await eventually(
      "the edge's report",
      async () => JSON.parse((await cli(["edge", "list", "-o", "json"])).stdout).items,
      (items) => items[0]?.progress.pending === 0,
      30_000,
    );
    expect(listed).toEqual([
      expect.objectContaining({ name: "rack1", stale: false, mode: expect.any(String), applyOk: true }),
    ]);
  });
});
