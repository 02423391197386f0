/**
 * The edge replica on its own (temporary directories, no control plane):
 * snapshots replace everything; events apply idempotently, newer position
 * wins per row (tombstones included), rows and position commit together or
 * not at all; the replica survives a reopen and a reset; the read stores
 * answer with the control plane's matching rules.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openBetterSqlite } from "../../edge-node/node/sqlite";
import { Replica, ReplicaEventError } from "../../edge-node/replica";
import { SnapshotDocument } from "../../edge-node/replica/snapshot-document";
import type { Snapshot } from "../../functions/events/store";
import type { Resource } from "../../shared/envelope";
import type { ChangeEvent } from "../../shared/events";

const T = "2026-01-01T00:00:00.000Z";
const FUTURE = new Date(Date.now() + 3_600_000).toISOString();
const PAST = new Date(Date.now() - 3_600_000).toISOString();

const KIND = {
  components: ["smd", "Component", "hsm/v2"],
  interfaces: ["smd", "EthernetInterface", "hsm/v2"],
  groups: ["smd", "Group", "hsm/v2"],
  partitions: ["smd", "Partition", "hsm/v2"],
  bootparams: ["bss", "BootParameters", "boot/v1"],
  payloads: ["cloudinit", "CloudInitPayload", "cloud-init/v1"],
  revocations: ["auth", "Revocation", "auth/v1"],
} as const;
type Res = keyof typeof KIND;

function env(resource: Res, id: string, spec: Record<string, unknown>, etag = "e0"): Resource<unknown> {
  const [, kind, apiVersion] = KIND[resource];
  return { kind, apiVersion, metadata: { id, etag, createdAt: T, updatedAt: T }, spec };
}

const component = (id: string, over: Record<string, unknown> = {}) =>
  env("components", id, {
    id,
    type: "Node",
    state: "Ready",
    role: "Compute",
    subRole: null,
    nid: null,
    parentId: null,
    rack: null,
    unit: null,
    slot: null,
    subSlot: null,
    flag: "OK",
    arch: null,
    netType: null,
    enabled: true,
    ...over,
  });
const iface = (id: string, componentId: string, mac: string, ips: string[] = []) =>
  env("interfaces", id, {
    id,
    componentId,
    macAddress: mac,
    ipAddresses: ips.map((ipAddress) => ({ ipAddress, network: "mgmt" })),
    description: "",
  });
const group = (resource: "groups" | "partitions", name: string, members: string[]) =>
  env(resource, name, { name, description: "", tags: [], members });
const params = (id: string, target: { componentId?: string; role?: string; isDefault?: boolean }) =>
  env("bootparams", id, {
    id,
    componentId: target.componentId ?? null,
    role: target.role ?? null,
    isDefault: target.isDefault ?? false,
    kernelUri: `http://images/${id}/vmlinuz`,
    initrdUri: "",
    cmdline: "console=ttyS0",
  });
const payload = (id: string, target: { componentId?: string; group?: string; role?: string }) =>
  env("payloads", id, {
    id,
    componentId: target.componentId ?? null,
    group: target.group ?? null,
    role: target.role ?? null,
    userData: `#cloud-config\nhostname: ${id}\n`,
    metaData: { from: id },
    vendorData: null,
    bindToAddress: false,
  });
const revocation = (jti: string, expiresAt: string) =>
  env("revocations", jti, { jti, reason: "test", expiresAt });

let seq = 0;
function event(
  position: number,
  resource: Res,
  action: string,
  data: Resource<unknown> | string,
): ChangeEvent {
  const subject = typeof data === "string" ? data : data.metadata.id;
  return {
    specversion: "1.0",
    id: `00000000-0000-4000-8000-${String(++seq).padStart(12, "0")}`,
    source: "chamicore-control",
    type: `chamicore.${KIND[resource][0]}.${resource}.${action}`,
    subject,
    time: new Date(Date.UTC(2026, 0, 1, 0, 0, position)).toISOString(),
    datacontenttype: "application/json",
    data: typeof data === "string" ? { id: data } : data,
    position,
  };
}
const put = (position: number, resource: Res, data: Resource<unknown>, action = "updated") =>
  event(position, resource, action, data);
const del = (position: number, resource: Res, id: string) => event(position, resource, "deleted", id);

const MAC1 = "02:00:00:00:00:01";
const MAC2 = "02:00:00:00:00:02";
const MAC3 = "02:00:00:00:00:03";

/** A small cluster: two nodes of role Compute in group gpu, a service node, params and payloads. */
function snapshot(position = 10): Snapshot {
  return {
    position,
    components: [
      component("x1000c0s0b0n0", { nid: 1 }),
      component("x1000c0s0b0n1", { nid: 2 }),
      component("x1000c0s1b0n0", { nid: 3, role: "Service", enabled: false }),
    ],
    interfaces: [
      iface("020000000001", "x1000c0s0b0n0", MAC1, ["10.0.0.1", "fd00::1"]),
      iface("020000000002", "x1000c0s0b0n1", MAC2, ["10.0.0.2"]),
      iface("020000000003", "x1000c0s1b0n0", MAC3, ["::ffff:10.0.0.3"]),
    ],
    groups: [group("groups", "gpu", ["x1000c0s0b0n0", "x1000c0s0b0n1"])],
    partitions: [group("partitions", "p1", ["x1000c0s1b0n0"])],
    bootparams: [
      params("bp-default", { isDefault: true }),
      params("bp-n0", { componentId: "x1000c0s0b0n0" }),
      params("bp-role", { role: "Compute" }),
    ],
    payloads: [
      payload("pl-gpu", { group: "gpu" }),
      payload("pl-n1", { componentId: "x1000c0s0b0n1" }),
      payload("pl-role", { role: "Compute" }),
    ],
    revocations: [revocation("jti-active", FUTURE)],
  };
}

let dir: string;
let replica: Replica;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "chamicore-replica-"));
  replica = Replica.open(join(dir, "edge"), { sqlite: openBetterSqlite });
});
afterEach(() => {
  replica.close();
  rmSync(dir, { recursive: true, force: true });
});

describe("snapshot", () => {
  it("starts empty at position 0", () => {
    expect(replica.position()).toBe(0);
    expect(replica.status()).toEqual({
      position: 0,
      snapshotAt: null,
      lastAppliedAt: null,
      lastEventTime: null,
      counts: {
        components: 0,
        interfaces: 0,
        groups: 0,
        partitions: 0,
        bootparams: 0,
        payloads: 0,
        revocations: 0,
      },
      feed: { source: null, by: null, at: null },
    });
  });

  it("applies a snapshot: dump gives it back in the snapshot's order, position and counts follow", () => {
    const s = snapshot();
    // Given out of order, dumped by id as the control plane orders them.
    replica.applySnapshot({ ...s, components: [...s.components].reverse() });
    expect(replica.dump()).toEqual(s);
    const st = replica.status();
    expect(st.position).toBe(10);
    expect(st.snapshotAt).toMatch(/^\d{4}-\d\d-\d\dT/);
    expect(st.lastAppliedAt).toBe(st.snapshotAt);
    expect(st.counts).toEqual({
      components: 3,
      interfaces: 3,
      groups: 1,
      partitions: 1,
      bootparams: 3,
      payloads: 3,
      revocations: 1,
    });
  });

  it("replaces everything, tombstones included", () => {
    replica.applySnapshot(snapshot());
    replica.applyEvents([del(11, "components", "x1000c0s0b0n1")]);
    const next: Snapshot = {
      position: 20,
      components: [component("x9c0s0b0n0")],
      interfaces: [],
      groups: [],
      partitions: [],
      bootparams: [],
      payloads: [],
      revocations: [],
    };
    replica.applySnapshot(next);
    expect(replica.dump()).toEqual(next);
    // The tombstone of position 11 is gone with the old state: a later create is not compared with it.
    expect(replica.applyEvents([put(21, "components", component("x1000c0s0b0n1"), "created")])).toBe(1);
  });

  it("leaves expired revocations out of dump and counts, as the control plane's snapshot does", () => {
    replica.applySnapshot({
      ...snapshot(),
      revocations: [revocation("jti-a", FUTURE), revocation("jti-b", PAST)],
    });
    expect(replica.dump().revocations.map((r) => r.metadata.id)).toEqual(["jti-a"]);
    expect(replica.status().counts.revocations).toBe(1);
  });

  it("refuses a malformed snapshot without touching the current state", () => {
    replica.applySnapshot(snapshot());
    const before = replica.dump();
    const bad = { ...snapshot(30), interfaces: [{ metadata: { id: "x" } }] } as unknown as Snapshot;
    expect(() => replica.applySnapshot(bad)).toThrow(ReplicaEventError);
    expect(replica.dump()).toEqual(before);
    expect(replica.position()).toBe(10);
  });

  it("takes the snapshot as the control plane's bytes, parsed one resource at a time, to the same state", () => {
    const s = snapshot();
    replica.applySnapshot(new SnapshotDocument(Buffer.from(JSON.stringify(s, null, 2))));
    expect(replica.dump()).toEqual(s);
  });

  it("refuses bytes with one broken resource without touching the current state", () => {
    replica.applySnapshot(snapshot());
    const before = replica.dump();
    // The last component is broken inside: found only when the replica reaches it, mid-transaction.
    const text = JSON.stringify(snapshot(30)).replace('"nid":3', '"nid":3,,');
    expect(text).toContain(",,");
    expect(() => replica.applySnapshot(new SnapshotDocument(Buffer.from(text)))).toThrow(
      /malformed|snapshot components/,
    );
    expect(replica.dump()).toEqual(before);
    expect(replica.position()).toBe(10);
  });
});

describe("events", () => {
  const batch = () => [
    put(11, "components", component("x1000c0s0b0n0", { nid: 1, role: "Service" })),
    put(12, "interfaces", iface("020000000009", "x1000c0s0b0n1", "02:00:00:00:00:09"), "created"),
    del(14, "payloads", "pl-n1"),
    put(15, "groups", group("groups", "gpu", ["x1000c0s0b0n1"])),
    put(17, "revocations", revocation("jti-2", FUTURE), "created"),
  ];

  it("apply in one transaction and record the highest position and its time", () => {
    replica.applySnapshot(snapshot());
    expect(replica.applyEvents(batch())).toBe(5);
    expect(replica.position()).toBe(17);
    expect(replica.status().lastEventTime).toBe(batch().at(-1)!.time);
    const d = replica.dump();
    expect(d.components[0]!.spec).toMatchObject({ role: "Service" });
    expect(d.interfaces.map((i) => i.metadata.id)).toContain("020000000009");
    expect(d.payloads.map((p) => p.metadata.id)).toEqual(["pl-gpu", "pl-role"]);
    expect(d.groups[0]!.spec).toMatchObject({ members: ["x1000c0s0b0n1"] });
    expect(replica.isRevoked("jti-2", new Date())).toBe(true);
  });

  it("are idempotent: the same batch again changes nothing, position included", async () => {
    replica.applySnapshot(snapshot());
    replica.applyEvents(batch());
    const once = replica.dump();
    const status = replica.status();
    expect(replica.applyEvents(batch())).toBe(0);
    expect(replica.dump()).toEqual(once);
    expect(replica.status()).toEqual(status);
    // Nor the in-memory index: its entries are the very same objects, not re-read copies
    // (a new stream consumer repeats a minute of events, 100,000 after a bulk import).
    const node = await replica.boot.nodeById("x1000c0s0b0n0");
    expect(replica.applyEvents(batch())).toBe(0);
    expect(await replica.boot.nodeById("x1000c0s0b0n0")).toBe(node);
    // Duplicates inside one batch count once.
    const fresh = Replica.open(join(dir, "dup"), { sqlite: openBetterSqlite });
    try {
      fresh.applySnapshot(snapshot());
      expect(fresh.applyEvents([...batch(), ...batch()])).toBe(5);
      expect(fresh.dump()).toEqual(once);
    } finally {
      fresh.close();
    }
  });

  it("skip events at or below the position, whatever they say", () => {
    replica.applySnapshot(snapshot());
    expect(replica.applyEvents([del(10, "components", "x1000c0s0b0n0"), del(3, "groups", "gpu")])).toBe(0);
    expect(replica.dump()).toEqual(snapshot());
  });

  it("never let an older event overwrite a row written by a newer one", () => {
    replica.applySnapshot(snapshot());
    const newer = put(13, "components", component("x1000c0s0b0n0", { nid: 1, role: "Service" }));
    const older = put(12, "components", component("x1000c0s0b0n0", { nid: 1, role: "Storage" }));
    const other = put(11, "components", component("x1000c0s0b0n1", { nid: 22 }));
    expect(replica.applyEvents([newer, older, other])).toBe(2);
    const d = replica.dump();
    expect(d.components[0]!.spec).toMatchObject({ role: "Service" });
    expect(d.components[1]!.spec).toMatchObject({ nid: 22 });
    expect(replica.position()).toBe(13);
  });

  it("keep a deleted row deleted when an older create is replayed (tombstones)", () => {
    const create = put(11, "components", component("x5c0s0b0n0"), "created");
    const remove = del(12, "components", "x5c0s0b0n0");
    expect(replica.applyEvents([create, remove, create])).toBe(2);
    expect(replica.dump().components).toEqual([]);
    // Out of order in one batch: the delete first, then the older create.
    const other = Replica.open(join(dir, "other"), { sqlite: openBetterSqlite });
    try {
      expect(other.applyEvents([remove, create])).toBe(1);
      expect(other.dump().components).toEqual([]);
      // A newer create brings it back.
      expect(other.applyEvents([put(13, "components", component("x5c0s0b0n0"), "created")])).toBe(1);
      expect(other.dump().components.map((c) => c.metadata.id)).toEqual(["x5c0s0b0n0"]);
    } finally {
      other.close();
    }
  });

  it("converge on the same state whatever their order inside a batch", () => {
    const events = [
      put(11, "components", component("x7c0s0b0n0", { nid: 70 }), "created"),
      put(12, "interfaces", iface("i70", "x7c0s0b0n0", "02:00:00:00:07:00", ["10.7.0.1"]), "created"),
      put(13, "groups", group("groups", "g7", ["x7c0s0b0n0"]), "created"),
      put(14, "interfaces", iface("i70", "x7c0s0b0n0", "02:00:00:00:07:01", ["10.7.0.2"])),
      put(15, "components", component("x7c0s0b0n0", { nid: 71 })),
      del(16, "interfaces", "i70"),
      put(17, "interfaces", iface("i71", "x7c0s0b0n0", "02:00:00:00:07:00", ["10.7.0.1"]), "created"),
      put(18, "groups", group("groups", "g7", [])),
      del(19, "groups", "g7"),
      put(20, "bootparams", params("bp7", { componentId: "x7c0s0b0n0" }), "created"),
    ];
    replica.applyEvents(events);
    const expected = replica.dump();
    for (const seed of [1, 2, 3, 4, 5]) {
      const shuffled = [...events].sort(
        (a, b) => ((a.position * 7919 * seed) % 13) - ((b.position * 7919 * seed) % 13),
      );
      const r = Replica.open(join(dir, `shuffle-${seed}`), { sqlite: openBetterSqlite });
      try {
        r.applyEvents(shuffled);
        expect(r.dump(), `seed ${seed}`).toEqual(expected);
      } finally {
        r.close();
      }
    }
  });

  it("record rows and position together: an event that throws mid-batch leaves both as they were", () => {
    replica.applySnapshot(snapshot());
    const before = replica.dump();
    const status = replica.status();
    const good = put(11, "components", component("x1000c0s0b0n0", { nid: 1, role: "Service" }));
    const unknown = {
      ...put(12, "components", component("x1000c0s0b0n1")),
      type: "chamicore.smd.chassis.updated",
    };
    let err: unknown;
    try {
      replica.applyEvents([good, unknown]);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ReplicaEventError);
    expect(err).toMatchObject({ reason: "unknown-type", position: 12 });
    expect(replica.dump()).toEqual(before);
    expect(replica.status()).toEqual(status);

    const malformed = put(
      13,
      "interfaces",
      env("interfaces", "i9", { id: "i9", componentId: "x", ipAddresses: [] }),
    );
    expect(() => replica.applyEvents([good, malformed])).toThrow(/macAddress must be a string/);
    const mismatched = { ...put(14, "components", component("x1000c0s0b0n1")), subject: "someone-else" };
    expect(() => replica.applyEvents([good, mismatched])).toThrow(/not the subject/);
    expect(replica.dump()).toEqual(before);
    expect(replica.position()).toBe(10);
    // The good event alone still applies afterwards.
    expect(replica.applyEvents([good])).toBe(1);
  });

  it("passes over power events (control-plane work) but moves its position past them", () => {
    replica.applySnapshot(snapshot());
    const before = replica.dump();
    const power = {
      ...put(11, "components", component("x1000c0s0b0n0")),
      type: "chamicore.power.transitions.created",
      subject: "3f2a9c1d-0000-4000-8000-000000000000",
    };
    const good = put(12, "components", component("x1000c0s0b0n0", { nid: 1, role: "Service" }));
    expect(replica.applyEvents([power])).toBe(0);
    expect(replica.position()).toBe(11);
    expect(replica.dump()).toEqual({ ...before, position: 11 });
    expect(replica.applyEvents([good])).toBe(1);
    expect(replica.position()).toBe(12);
    // A service the edge knows nothing of is still refused.
    const other = { ...put(13, "components", component("x1")), type: "chamicore.inventory2.things.created" };
    expect(() => replica.applyEvents([other])).toThrow(ReplicaEventError);
  });

  it("apply from nothing: position 0 plus every event", () => {
    expect(replica.applyEvents([put(1, "components", component("x1c0s0b0n0"), "created")])).toBe(1);
    expect(replica.position()).toBe(1);
    expect(replica.status().snapshotAt).toBeNull();
  });
});

describe("lifecycle", () => {
  it("keeps everything across close and reopen", () => {
    replica.applySnapshot(snapshot());
    replica.applyEvents([put(11, "components", component("x1000c0s0b0n0", { nid: 1, role: "Service" }))]);
    const d = replica.dump();
    const st = replica.status();
    replica.close();
    replica = Replica.open(join(dir, "edge"), { sqlite: openBetterSqlite });
    expect(replica.dump()).toEqual(d);
    expect(replica.status()).toEqual(st);
    expect(replica.applyEvents([put(11, "components", component("x1000c0s0b0n0"))])).toBe(0);
  });

  it("reset drops every row and the position", async () => {
    replica.applySnapshot(snapshot());
    replica.applyEvents([del(11, "components", "x1000c0s0b0n1")]);
    replica.reset();
    expect(replica.status()).toMatchObject({ position: 0, snapshotAt: null, lastAppliedAt: null });
    expect(Object.values(replica.status().counts).every((n) => n === 0)).toBe(true);
    expect(await replica.boot.nodeByMac(MAC1)).toBeUndefined();
    expect(replica.isRevoked("jti-active", new Date())).toBe(false);
    // Tombstones went too: an old create applies again.
    expect(replica.applyEvents([put(5, "components", component("x1000c0s0b0n1"), "created")])).toBe(1);
  });
});

describe("read stores", () => {
  beforeEach(() => replica.applySnapshot(snapshot()));

  it("boot: node by MAC, id and nid; the params that could apply, one per target", async () => {
    const n0 = { id: "x1000c0s0b0n0", nid: 1, role: "Compute", enabled: true };
    expect(await replica.boot.nodeByMac(MAC1)).toEqual(n0);
    expect(await replica.boot.nodeByMac("02:00:00:00:00:99")).toBeUndefined();
    expect(await replica.boot.nodeById("x1000c0s1b0n0")).toEqual({
      id: "x1000c0s1b0n0",
      nid: 3,
      role: "Service",
      enabled: false,
    });
    expect(await replica.boot.nodesByNid(1, 2)).toEqual([n0]);
    const c = await replica.boot.paramsFor("x1000c0s0b0n0", "Compute");
    expect([c.component?.id, c.role?.id, c.default?.id]).toEqual(["bp-n0", "bp-role", "bp-default"]);
    const none = await replica.boot.paramsFor("x1000c0s1b0n0", null);
    expect(none).toEqual({ default: snapshot().bootparams[0]!.spec });
  });

  it("boot: nids are not unique; at most `limit`, by id", async () => {
    replica.applyEvents([
      put(11, "components", component("x2c0s0b0n0", { nid: 1 }), "created"),
      put(12, "components", component("x0c0s0b0n0", { nid: 1 }), "created"),
    ]);
    expect((await replica.boot.nodesByNid(1, 2)).map((n) => n.id)).toEqual(["x0c0s0b0n0", "x1000c0s0b0n0"]);
  });

  it("cloud-init: facts with interfaces by id and groups (not partitions)", async () => {
    replica.applyEvents([
      put(11, "interfaces", iface("000000000000", "x1000c0s0b0n0", "02:00:00:00:00:aa"), "created"),
    ]);
    const n = await replica.cloudInit.nodeByMac(MAC1);
    expect(n).toEqual({
      id: "x1000c0s0b0n0",
      nid: 1,
      role: "Compute",
      groups: ["gpu"],
      interfaces: [
        { id: "000000000000", macAddress: "02:00:00:00:00:aa", ipAddresses: [] },
        {
          id: "020000000001",
          macAddress: MAC1,
          ipAddresses: [
            { ipAddress: "10.0.0.1", network: "mgmt" },
            { ipAddress: "fd00::1", network: "mgmt" },
          ],
        },
      ],
    });
    expect((await replica.cloudInit.nodeById("x1000c0s1b0n0"))?.groups).toEqual([]);
    expect(await replica.cloudInit.nodeById("nope")).toBeUndefined();
  });

  it("cloud-init: addresses compare as Postgres inet does", async () => {
    const ids = (a: string) => replica.cloudInit.componentsWithAddress(a);
    expect(await ids("10.0.0.1")).toEqual(["x1000c0s0b0n0"]);
    expect(await ids("fd00:0:0::0001")).toEqual(["x1000c0s0b0n0"]);
    // Stored as IPv4-mapped IPv6: not the same inet as the plain IPv4 address.
    expect(await ids("10.0.0.3")).toEqual([]);
    expect(await ids("::ffff:10.0.0.3")).toEqual(["x1000c0s1b0n0"]);
    expect(await ids("10.0.0.99")).toEqual([]);
    expect(await ids("not-an-address")).toEqual([]);
    // Two are enough to call it ambiguous; sorted.
    replica.applyEvents([
      put(11, "components", component("x0c0s0b0n0"), "created"),
      put(12, "components", component("x9c0s0b0n0"), "created"),
      put(13, "interfaces", iface("i-x0", "x0c0s0b0n0", "02:00:00:00:01:00", ["10.0.0.2"]), "created"),
      put(14, "interfaces", iface("i-x9", "x9c0s0b0n0", "02:00:00:00:01:09", ["10.0.0.2"]), "created"),
    ]);
    expect(await ids("10.0.0.2")).toEqual(["x0c0s0b0n0", "x1000c0s0b0n1"]);
    // An interface that moves takes its addresses along; a deleted one drops them.
    replica.applyEvents([
      put(15, "interfaces", iface("020000000001", "x9c0s0b0n0", MAC1, ["10.0.0.1"])),
      del(16, "interfaces", "i-x0"),
    ]);
    expect(await ids("10.0.0.1")).toEqual(["x9c0s0b0n0"]);
    expect(await ids("fd00::1")).toEqual([]);
    expect(await ids("10.0.0.2")).toEqual(["x1000c0s0b0n1", "x9c0s0b0n0"]);
  });

  it("cloud-init: payloads for the component, any of its groups, or its role", async () => {
    const of = async (t: { componentId: string; groups: string[]; role: string | null }) =>
      (await replica.cloudInit.payloadsFor(t)).map((p) => p.id).sort();
    expect(await of({ componentId: "x1000c0s0b0n1", groups: ["gpu"], role: "Compute" })).toEqual([
      "pl-gpu",
      "pl-n1",
      "pl-role",
    ]);
    expect(await of({ componentId: "x1000c0s1b0n0", groups: [], role: null })).toEqual([]);
    expect(await of({ componentId: "zz", groups: ["a", "gpu"], role: "Service" })).toEqual(["pl-gpu"]);
    expect(
      (await replica.cloudInit.payloadsFor({ componentId: "x1000c0s0b0n1", groups: [], role: null }))[0],
    ).toEqual(snapshot().payloads[1]!.spec);
  });

  it("revocations count until they expire", () => {
    const exp = new Date(FUTURE);
    expect(replica.isRevoked("jti-active", new Date())).toBe(true);
    expect(replica.isRevoked("jti-active", exp)).toBe(false);
    expect(replica.isRevoked("jti-unknown", new Date())).toBe(false);
  });
});
