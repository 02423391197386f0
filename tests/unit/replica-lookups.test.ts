/**
 * How fast the replica answers the boot script's two reads at inventory
 * scale (50,000 components, one interface each, params for a few of them,
 * their roles and the default). Printed, not asserted: a figure to compare
 * runs and machines with, not a pass mark.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openBetterSqlite } from "../../edge-node/node/sqlite";
import { Replica, registerReplicaServing, replicaStores } from "../../edge-node/replica";
import type { AppDeps, AppEnv } from "../../functions/env";
import type { Snapshot } from "../../functions/events/store";
import type { Resource } from "../../shared/envelope";
import { createBaseApp } from "../../shared/http/app";
import { silentLogger } from "../../shared/log";
import { httpMetrics, Registry } from "../../shared/metrics";

const N = 50_000;
const T = "2026-01-01T00:00:00.000Z";
const ROLES = ["Compute", "Service", "Storage", null] as const;

const env = (kind: string, id: string, spec: Record<string, unknown>): Resource<unknown> => ({
  kind,
  apiVersion: "hsm/v2",
  metadata: { id, etag: "0123456789abcdef", createdAt: T, updatedAt: T },
  spec,
});
const macOf = (i: number) =>
  `02:00:${[(i >> 24) & 255, (i >> 16) & 255, (i >> 8) & 255, i & 255].map((b) => b.toString(16).padStart(2, "0")).join(":")}`;
const idOf = (i: number) => `x${1000 + Math.floor(i / 256)}c0s${Math.floor(i / 8) % 32}b0n${i % 8}`;

function bigSnapshot(): Snapshot {
  const components: Resource<unknown>[] = [];
  const interfaces: Resource<unknown>[] = [];
  const bootparams: Resource<unknown>[] = [];
  for (let i = 0; i < N; i++) {
    const id = idOf(i);
    components.push(
      env("Component", id, {
        id,
        type: "Node",
        state: "Ready",
        role: ROLES[i % ROLES.length],
        subRole: null,
        nid: i + 1,
        parentId: null,
        rack: `x${1000 + Math.floor(i / 256)}`,
        unit: null,
        slot: null,
        subSlot: null,
        flag: "OK",
        arch: "X86",
        netType: "Sling",
        enabled: true,
      }),
    );
    const mac = macOf(i);
    interfaces.push(
      env("EthernetInterface", mac.replaceAll(":", ""), {
        id: mac.replaceAll(":", ""),
        componentId: id,
        macAddress: mac,
        ipAddresses: [{ ipAddress: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, network: "mgmt" }],
        description: "",
      }),
    );
    if (i % 100 === 0)
      bootparams.push(
        env("BootParameters", `bp-${id}`, {
          id: `bp-${id}`,
          componentId: id,
          role: null,
          isDefault: false,
          kernelUri: `http://images.example/${id}/vmlinuz`,
          initrdUri: "",
          cmdline: "console=ttyS0,115200 nid={nid}",
        }),
      );
  }
  for (const [i, role] of ["Compute", "Service", "Storage"].entries())
    bootparams.push(
      env("BootParameters", `bp-role-${i}`, {
        id: `bp-role-${i}`,
        componentId: null,
        role,
        isDefault: false,
        kernelUri: `http://images.example/${role}/vmlinuz`,
        initrdUri: `http://images.example/${role}/initrd.img`,
        cmdline: "quiet role={role}",
      }),
    );
  bootparams.push(
    env("BootParameters", "bp-default", {
      id: "bp-default",
      componentId: null,
      role: null,
      isDefault: true,
      kernelUri: "http://images.example/default/vmlinuz",
      initrdUri: "",
      cmdline: "",
    }),
  );
  return {
    position: 1,
    components,
    interfaces,
    groups: [],
    partitions: [],
    bootparams,
    payloads: [],
    revocations: [],
  };
}

describe("replica lookups at 50,000 components", () => {
  let dir: string;
  let replica: Replica;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "chamicore-replica-lookups-"));
    replica = Replica.open(dir, { sqlite: openBetterSqlite });
    const s = bigSnapshot();
    const t0 = performance.now();
    replica.applySnapshot(s);
    console.log(
      `replica: snapshot of ${N} components, ${N} interfaces, ${s.bootparams.length} boot params applied in ${Math.round(performance.now() - t0)} ms`,
    );
  });
  afterAll(() => {
    replica?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("nodeByMac + paramsFor per second (printed)", async () => {
    const lookups = 100_000;
    let found = 0;
    let seed = 12345;
    const t0 = performance.now();
    for (let k = 0; k < lookups; k++) {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      const node = await replica.boot.nodeByMac(macOf(seed % N));
      if (!node) continue;
      const c = await replica.boot.paramsFor(node.id, node.role);
      if (c.component ?? c.role ?? c.default) found++;
    }
    const secs = (performance.now() - t0) / 1000;
    console.log(
      `replica: ${Math.round(lookups / secs).toLocaleString("en")} boot lookups/s (nodeByMac + paramsFor, random MACs over ${N} components)`,
    );
    expect(found).toBe(lookups);
  });

  it("boot scripts per second through the shared handler, in process (printed)", async () => {
    const registry = new Registry();
    const app = createBaseApp<AppEnv>({
      logger: silentLogger,
      metrics: httpMetrics(registry),
      quietAccessLog: true,
    });
    const deps: AppDeps = {
      logger: silentLogger,
      registry,
      runtime: "node",
      stores: replicaStores(replica),
      serving: {
        publicUrl: "http://edge.example",
        unknownMac: "retry",
        trustedProxies: [],
        peerAddress: () => undefined,
      },
      auth: {} as AppDeps["auth"],
    };
    app.use(async (c, next) => {
      c.set("deps", deps);
      await next();
    });
    app.use("/boot/*", deps.stores);
    registerReplicaServing(app);
    const requests = 20_000;
    const t0 = performance.now();
    for (let k = 0; k < requests; k++) {
      const res = await app.request(`/boot/v1/bootscript?mac=${macOf((k * 7919) % N)}`);
      if (res.status !== 200) throw new Error(`status ${res.status}`);
      await res.text();
    }
    const secs = (performance.now() - t0) / 1000;
    console.log(
      `replica: ${Math.round(requests / secs).toLocaleString("en")} boot scripts/s through Hono + the shared handler (app.request, no sockets)`,
    );
  });
});
