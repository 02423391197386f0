/**
 * The edge replica against the real control plane (Node, embedded PGlite):
 * a realistic cluster is written through the API, the control plane's
 * snapshot is applied to a Replica, and the shared boot-script and cloud-init
 * handlers served from the replica answer byte for byte as the control plane
 * does — status, body, Content-Type, Cache-Control and ETag — for every node
 * by MAC, name and nid, and for every document by id, by `?mac=` and by
 * caller address through a trusted proxy. Then changes are made, the change
 * feed is applied, and the replica's dump equals a fresh snapshot, with the
 * answers still identical; the same holds after random change sequences.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createHotPath, withHotPath } from "../../edge-node/hot-path";
import { openBetterSqlite } from "../../edge-node/node/sqlite";
import { Replica, registerReplicaServing, replicaStores } from "../../edge-node/replica";
import type { AppDeps, AppEnv } from "../../functions/env";
import type { Snapshot } from "../../functions/events/store";
import { createBaseApp } from "../../shared/http/app";
import { silentLogger } from "../../shared/log";
import { Counter, httpMetrics, Registry } from "../../shared/metrics";
import { type Answer, type Call, nodePgliteTarget, type Target } from "../support/targets";

// biome-ignore lint/suspicious/noExplicitAny: API answers are inspected freely.
type Doc = any;

const PUBLIC_URL = "http://boot.example:8080";
/** Both sides believe X-Forwarded-For from the test process only. */
const TRUSTED = "127.0.0.1/32";
const DOCUMENTS = ["user-data", "meta-data", "vendor-data"] as const;
/**
 * Headers that differ without the answer differing: per request, or added by
 * the Node HTTP server that `app.request()` skips (the bodies are compared whole).
 */
const VOLATILE_HEADERS = new Set([
  "date",
  "x-request-id",
  "connection",
  "keep-alive",
  "transfer-encoding",
  "content-length",
]);

const C = "/hsm/v2/State/Components";

/**
 * The edge side: the shared handlers over the replica, configured as the
 * control target is; `hot`: with the edge's hot routes in front (edge-node/hot-path.ts).
 */
function edgeApp(replica: Replica, hot = false): OpenAPIHono<AppEnv> {
  const registry = new Registry();
  const app = createBaseApp<AppEnv>({ logger: silentLogger, metrics: httpMetrics(registry) });
  const deps: AppDeps = {
    logger: silentLogger,
    registry,
    runtime: "node",
    stores: replicaStores(replica),
    serving: {
      publicUrl: PUBLIC_URL,
      unknownMac: "retry",
      trustedProxies: [TRUSTED],
      // What the control plane's socket reports for this test process.
      peerAddress: () => "127.0.0.1",
    },
    // Serving routes are public: nothing here reads auth.
    auth: {} as AppDeps["auth"],
  };
  app.use(async (c, next) => {
    c.set("deps", deps);
    await next();
  });
  app.use("/boot/*", deps.stores);
  app.use("/cloud-init/*", deps.stores);
  registerReplicaServing(app);
  if (!hot) return app;
  return withHotPath(
    app,
    createHotPath({
      boot: replica.boot,
      cloudInit: replica.cloudInit,
      serving: deps.serving,
      logger: silentLogger,
      metrics: httpMetrics(registry),
      answers: new Counter("chamicore_edge_answers_total", "answers"),
      peerOf: () => "127.0.0.1",
    }),
  );
}

interface Seen {
  status: number;
  headers: Record<string, string>;
  body: unknown;
}

/** An answer as compared: problem bodies without their per-request id. */
function seen(status: number, headers: Headers, text: string): Seen {
  const h: Record<string, string> = {};
  headers.forEach((v, k) => {
    if (!VOLATILE_HEADERS.has(k)) h[k] = v;
  });
  let body: unknown = text;
  if (h["content-type"]?.startsWith("application/problem+json")) {
    const { requestId: _, ...rest } = JSON.parse(text);
    body = rest;
  }
  return { status, headers: h, body };
}

async function fromControl(call: Call, path: string, headers: Record<string, string>): Promise<Seen> {
  const a: Answer = await call("GET", path, { token: null, headers });
  return seen(a.status, a.headers, a.text);
}

async function fromEdge(app: OpenAPIHono<AppEnv>, path: string, headers: Record<string, string>) {
  const res = await app.request(path, { headers });
  return seen(res.status, res.headers, await res.text());
}

/** Every request a booting node (or a curious caller) could make, for the control plane's current inventory. */
async function requestsFor(call: Call): Promise<[string, Record<string, string>][]> {
  const comps = (await call("GET", `${C}?limit=1000`)).json.items as Doc[];
  const ifaces = (await call("GET", "/hsm/v2/Inventory/EthernetInterfaces?limit=1000")).json.items as Doc[];
  const out: [string, Record<string, string>][] = [];
  const xff = (ip: string) => ({ "X-Forwarded-For": `${ip}, 127.0.0.1` });
  for (const c of comps) {
    const id: string = c.spec.id;
    const mine = ifaces.filter((i) => i.spec.componentId === id);
    const ips = mine.flatMap((i) => i.spec.ipAddresses.map((a: Doc) => a.ipAddress as string));
    out.push([`/boot/v1/bootscript?name=${id}`, {}]);
    if (c.spec.nid !== null) out.push([`/boot/v1/bootscript?nid=${c.spec.nid}`, {}]);
    for (const i of mine) {
      const mac: string = i.spec.macAddress;
      out.push([`/boot/v1/bootscript?mac=${mac}`, {}]);
      out.push([`/boot/v1/bootscript?mac=${mac.toUpperCase().replaceAll(":", "-")}&retry=3`, {}]);
      for (const d of DOCUMENTS) {
        out.push([`/cloud-init/${d}?mac=${mac}`, {}]);
        if (ips[0]) out.push([`/cloud-init/${d}?mac=${mac}`, xff(ips[0])]);
      }
    }
    for (const d of DOCUMENTS) {
      out.push([`/cloud-init/${id}/${d}`, {}]);
      out.push([`/cloud-init/${id}/${d}`, xff("10.99.0.1")]);
      for (const ip of ips) {
        out.push([`/cloud-init/${id}/${d}`, xff(ip)]);
        out.push([`/cloud-init/${d}`, xff(ip)]);
      }
    }
  }
  // Nobody, malformed, ambiguous.
  out.push(
    ["/boot/v1/bootscript?mac=02:00:00:00:99:99", {}],
    ["/boot/v1/bootscript?name=x9999c0s0b0n0", {}],
    ["/boot/v1/bootscript?nid=99999", {}],
    ["/boot/v1/bootscript?mac=zz", {}],
    ["/boot/v1/bootscript", {}],
    ["/cloud-init/x9999c0s0b0n0/user-data", {}],
    ["/cloud-init/user-data", {}],
    ["/cloud-init/meta-data", xff("10.99.0.1")],
    ["/cloud-init/meta-data", xff("not-an-address")],
    ["/cloud-init/user-data?mac=02:00:00:00:99:99", {}],
    ["/cloud-init/user-data?mac=nope", {}],
  );
  return out;
}

/** Asserts that the edge apps answer every request exactly as the control plane does; returns how many. */
async function expectParity(call: Call, ...apps: OpenAPIHono<AppEnv>[]): Promise<Map<number, number>> {
  const statuses = new Map<number, number>();
  for (const [path, headers] of await requestsFor(call)) {
    const control = await fromControl(call, path, headers);
    for (const app of apps) {
      const edge = await fromEdge(app, path, headers);
      expect(edge, `${path} ${JSON.stringify(headers)}`).toEqual(control);
    }
    statuses.set(control.status, (statuses.get(control.status) ?? 0) + 1);
  }
  return statuses;
}

async function snapshotOf(call: Call): Promise<Snapshot> {
  const s = await call("GET", "/events/v1/snapshot");
  expect(s.status, s.text).toBe(200);
  // The control plane's id travels beside the lists; the replica keeps it in its state, not in its dump.
  const { kind: _k, apiVersion: _a, source: _s, ...rest } = s.json;
  return rest as Snapshot;
}

/** Applies the change feed after the replica's position, in pages of `limit`; returns the events applied. */
async function follow(call: Call, replica: Replica, limit: number): Promise<number> {
  let applied = 0;
  for (;;) {
    const page = await call("GET", `/events/v1/changes?after=${replica.position()}&limit=${limit}`);
    expect(page.status, page.text).toBe(200);
    if (page.json.items.length === 0) return applied;
    applied += replica.applyEvents(page.json.items);
    expect(replica.position()).toBe(page.json.metadata.next);
  }
}

async function ok(call: Call, method: string, path: string, body?: unknown) {
  const a = await call(method, path, body === undefined ? {} : { body });
  expect(a.status, `${method} ${path}: ${a.text}`).toBeLessThan(300);
  return a;
}

const mac = (n: number) => `02:00:00:00:00:${n.toString(16).padStart(2, "0")}`;
const node = (
  id: string,
  n: number,
  extra: { role?: string | null; nid?: number | null; enabled?: boolean; ips?: string[]; more?: Doc[] },
) => ({
  id,
  role: extra.role === undefined ? "Compute" : extra.role,
  nid: extra.nid === undefined ? n : extra.nid,
  enabled: extra.enabled ?? true,
  interfaces: [
    {
      macAddress: mac(n),
      ipAddresses: (extra.ips ?? [`10.1.0.${n}`]).map((ipAddress) => ({ ipAddress, network: "mgmt" })),
    },
    ...(extra.more ?? []),
  ],
});

const ROLE_COMPUTE = `#cloud-config
package_update: true
packages: [chrony, munge, slurm-client]
ntp:
  enabled: true
  servers: [10.0.0.2, 10.0.0.3]
users:
  - default
  - name: ops
    groups: [wheel]
    ssh_authorized_keys:
      - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGw3rSgNnSBpJtU3Pz0R ops@site
runcmd:
  - [systemctl, enable, --now, munge]
`;
const GROUP_GPU = `#cloud-config
packages:
  - nvidia-driver
  - chrony
runcmd:
  - [systemctl, enable, --now, nvidia-persistenced]
`;
const OWN_N0 = `#cloud-config
# local scratch disk
mounts:
  - [LABEL=scratch, /scratch, xfs, "defaults,nofail", "0", "2"]
`;
const SECRET_N1 =
  "#cloud-config\nwrite_files:\n  - path: /etc/slurm/token\n    content: s3cr3t-token\n    permissions: '0600'\n";

/** A small but complete cluster: roles, groups, a partition, params for each target, payloads for each target. */
async function buildCluster(call: Call) {
  const nodes = [
    node("x1000c0s0b0n0", 1, {
      ips: ["10.1.0.1", "fd00::1:1"],
      more: [{ macAddress: mac(0x11), ipAddresses: [{ ipAddress: "10.2.0.1", network: "hsn" }] }],
    }),
    node("x1000c0s0b0n1", 2, {}),
    node("x1000c0s0b1n0", 3, {}),
    node("x1000c0s0b1n1", 4, { nid: 3 }), // the same nid as the one above: ambiguous by nid
    node("x1000c0s1b0n0", 5, { role: "Service", nid: 100 }),
    node("x1000c0s1b0n1", 6, { role: "Storage", nid: 101, ips: ["::ffff:10.1.0.6"] }),
    node("x1000c0s2b0n0", 7, { enabled: false }),
    node("x1000c0s3b0n0", 8, { role: null, nid: null, ips: ["10.1.0.8", "10.1.0.9"] }),
    node("x1000c0s3b0n1", 9, { role: null, nid: 7, ips: ["10.1.0.9"] }), // 10.1.0.9 twice: ambiguous
  ];
  for (const n of nodes) await ok(call, "POST", C, n);
  await ok(call, "POST", "/hsm/v2/groups", {
    name: "gpu",
    tags: ["accel"],
    members: ["x1000c0s0b0n1", "x1000c0s0b0n0"],
  });
  await ok(call, "POST", "/hsm/v2/groups", {
    name: "rack-x1000",
    members: ["x1000c0s0b0n0", "x1000c0s0b0n1", "x1000c0s0b1n0", "x1000c0s0b1n1", "x1000c0s1b0n0"],
  });
  await ok(call, "POST", "/hsm/v2/partitions", { name: "p1", members: ["x1000c0s0b0n0", "x1000c0s1b0n0"] });

  await ok(call, "POST", "/boot/v1/bootparams", {
    id: "bp-n0",
    componentId: "x1000c0s0b0n0",
    kernelUri: "http://images.example/n0/vmlinuz",
    initrdUri: "http://images.example/n0/initrd.img",
    cmdline: "console=ttyS0,115200 nid={nid} mac={mac}",
  });
  await ok(call, "POST", "/boot/v1/bootparams", {
    id: "bp-compute",
    role: "Compute",
    kernelUri: "http://images.example/compute/vmlinuz",
    initrdUri: "http://images.example/compute/initrd.img",
    cmdline: "quiet role={role} id={id}",
  });
  await ok(call, "POST", "/boot/v1/bootparams", {
    id: "bp-service",
    role: "Service",
    kernelUri: "http://images.example/service/vmlinuz",
    cmdline: "console=tty0",
  });
  await ok(call, "POST", "/boot/v1/bootparams", {
    id: "bp-default",
    isDefault: true,
    kernelUri: "http://images.example/default/vmlinuz",
    cmdline: "nid={nid}",
  });

  const P = "/cloud-init/payloads";
  await ok(call, "POST", P, {
    id: "pl-compute",
    role: "Compute",
    userData: ROLE_COMPUTE,
    vendorData: "#cloud-config\nssh_pwauth: false\n",
    metaData: { cluster: "c1", ntp: ["10.0.0.2"] },
  });
  await ok(call, "POST", P, {
    id: "pl-service",
    role: "Service",
    userData: "#!/bin/sh\necho service node\n",
    metaData: { service: true },
  });
  await ok(call, "POST", P, {
    id: "pl-gpu",
    group: "gpu",
    userData: GROUP_GPU,
    metaData: { ntp: ["10.0.0.9"] },
  });
  await ok(call, "POST", P, {
    id: "pl-rack",
    group: "rack-x1000",
    vendorData: "#cloud-config\ntimezone: Europe/Zurich\n",
    metaData: { rack: "x1000" },
  });
  await ok(call, "POST", P, {
    id: "pl-n0",
    componentId: "x1000c0s0b0n0",
    userData: OWN_N0,
    metaData: { rack: "x1000-a", zeta: { a: 1 } },
  });
  await ok(call, "POST", P, {
    id: "pl-n1",
    componentId: "x1000c0s0b0n1",
    userData: SECRET_N1,
    bindToAddress: true,
  });
}

describe("replica parity with the control plane", () => {
  let t: Target;
  let dir: string;
  let replica: Replica;
  let app: OpenAPIHono<AppEnv>;
  let hot: OpenAPIHono<AppEnv>;

  beforeAll(async () => {
    t = await nodePgliteTarget({ CHAMICORE_PUBLIC_URL: PUBLIC_URL, CHAMICORE_TRUSTED_PROXIES: TRUSTED });
    dir = mkdtempSync(join(tmpdir(), "chamicore-replica-parity-"));
    replica = Replica.open(dir, { sqlite: openBetterSqlite });
    app = edgeApp(replica);
    hot = edgeApp(replica, true);
  });
  afterAll(async () => {
    replica?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
    await t?.stop();
  });

  it("answers byte-identically from the snapshot", async () => {
    await buildCluster(t.call);
    const snap = await snapshotOf(t.call);
    replica.applySnapshot(snap);
    expect(replica.dump()).toEqual(snap);
    const statuses = await expectParity(t.call, app, hot);
    // The comparison covered boot scripts, documents, and the refusals (400, 403, 404, 409, 422).
    expect([...statuses.keys()].sort()).toEqual([200, 400, 403, 404, 409, 422]);
    expect(statuses.get(200)).toBeGreaterThan(150);
  });

  it("follows the change feed to the control plane's state, and still answers identically", async () => {
    const from = replica.position();
    const call = t.call;
    await ok(call, "PATCH", `${C}/x1000c0s0b1n0`, { role: "Service" });
    await ok(call, "PATCH", "/boot/v1/bootparams/bp-compute", { cmdline: "quiet changed={id}" });
    await ok(call, "DELETE", `${C}/x1000c0s0b1n1`); // cascades: interface, group membership
    await ok(call, "POST", C, node("x1000c0s4b0n0", 0x20, { ips: ["10.1.0.32"] }));
    await ok(call, "POST", "/hsm/v2/groups/gpu/members", { ids: ["x1000c0s4b0n0"] });
    await ok(call, "DELETE", "/hsm/v2/groups/gpu/members/x1000c0s0b0n1");
    await ok(call, "DELETE", "/cloud-init/payloads/pl-service");
    await ok(call, "PATCH", "/hsm/v2/Inventory/EthernetInterfaces/020000000005", {
      ipAddresses: [{ ipAddress: "10.1.0.55", network: "mgmt" }],
    });
    await ok(call, "PATCH", "/cloud-init/payloads/pl-n0", { metaData: { zeta: null, extra: [1, 2] } });
    await ok(call, "POST", "/boot/v1/bootparams", {
      componentId: "x1000c0s4b0n0",
      kernelUri: "http://images.example/n20/vmlinuz",
    });
    await ok(call, "DELETE", "/hsm/v2/partitions/p1");
    await ok(call, "POST", "/auth/v1/token/revoke", { jti: "jti-parity", reason: "test" });
    await ok(call, "PATCH", `${C}/x1000c0s2b0n0`, { enabled: true });

    const applied = await follow(call, replica, 4);
    expect(applied).toBeGreaterThanOrEqual(13);
    expect(replica.position()).toBeGreaterThan(from);
    const snap = await snapshotOf(call);
    expect(replica.position()).toBe(snap.position);
    expect(replica.dump()).toEqual(snap);
    expect(replica.isRevoked("jti-parity", new Date())).toBe(true);
    await expectParity(call, app, hot);
    // The feed again: nothing new, nothing changes.
    expect(await follow(call, replica, 1000)).toBe(0);
    expect(replica.dump()).toEqual(snap);
  });

  it("converges after random change sequences, applied page by page", async () => {
    const r = rng(7);
    let changed = 0;
    for (let round = 0; round < 4; round++) {
      for (let i = 0; i < 25; i++) {
        const a = await randomChange(t.call, r, round * 100 + i);
        if (a.status >= 200 && a.status < 300) changed++;
      }
      await follow(t.call, replica, 1 + r.int(9));
      expect(replica.dump(), `round ${round}`).toEqual(await snapshotOf(t.call));
    }
    expect(changed).toBeGreaterThan(30);
    await expectParity(t.call, app, hot);
  });

  it("rebuilds from a fresh snapshot after reset, to the same state", async () => {
    const before = replica.dump();
    replica.reset();
    expect(replica.position()).toBe(0);
    // From position 0 the whole history applies too, to the same state.
    await follow(t.call, replica, 1000);
    expect(replica.dump()).toEqual(before);
  });
});

/** A small deterministic PRNG (mulberry32). */
function rng(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(xs: readonly T[]) => xs[Math.floor(next() * xs.length)]!,
  };
}

const hex = (b: number) => b.toString(16).padStart(2, "0");

/** One random change through the API; refusals are fine (they change nothing). */
async function randomChange(call: Call, r: ReturnType<typeof rng>, step: number): Promise<Answer> {
  const id = `x2${r.int(2)}c0s${r.int(3)}b0n${r.int(2)}`;
  const group = r.pick(["gpu", "rack-x1000", "g-rand"]);
  switch (r.int(12)) {
    case 0:
    case 1:
      return call("POST", C, {
        body: {
          id,
          nid: 500 + r.int(20),
          role: r.pick(["Compute", "Service", null]),
          interfaces: [
            {
              macAddress: `02:00:00:01:${hex((step >> 8) & 255)}:${hex(step & 255)}`,
              ipAddresses: [{ ipAddress: `10.3.${r.int(4)}.${step % 250}`, network: "mgmt" }],
            },
          ],
        },
      });
    case 2:
      return call("PATCH", `${C}/${id}`, {
        body: { role: r.pick(["Compute", "Storage", null]), nid: r.int(600) },
      });
    case 3:
      return call("DELETE", `${C}/${id}`);
    case 4:
      return call("POST", `/hsm/v2/groups/${group}/members`, { body: { ids: [id] } });
    case 5:
      return call("DELETE", `/hsm/v2/groups/${group}/members/${id}`);
    case 6:
      return call("POST", "/hsm/v2/groups", { body: { name: "g-rand", members: [id] } });
    case 7:
      return call("DELETE", "/hsm/v2/groups/g-rand");
    case 8:
      return call("POST", "/boot/v1/bootparams", {
        body: { componentId: id, kernelUri: `http://images.example/r${step}/vmlinuz`, cmdline: "nid={nid}" },
      });
    case 9:
      return call("POST", "/cloud-init/payloads", {
        body:
          r.next() < 0.5
            ? { componentId: id, userData: `#cloud-config\nhostname: n${step}\n` }
            : { group: "g-rand", metaData: { step } },
      });
    case 10: {
      const list = (await call("GET", "/cloud-init/payloads?fields=id")).json.items as Doc[];
      const target = list.length ? r.pick(list).metadata.id : "none";
      return r.next() < 0.5
        ? call("DELETE", `/cloud-init/payloads/${target}`)
        : call("PATCH", `/cloud-init/payloads/${target}`, {
            body: { vendorData: `#cloud-config\nstep: ${step}\n` },
          });
    }
    default:
      return call("POST", "/auth/v1/token/revoke", { body: { jti: `jti-${step}`, reason: "random" } });
  }
}
