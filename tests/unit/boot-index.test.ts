import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { openBetterSqlite } from "../../edge-node/node/sqlite";
import { Replica, ReplicaBootStore } from "../../edge-node/replica";
import { BootIndex } from "../../edge-node/replica/boot-index";
import type { BootReadStore } from "../../functions/boot/store";
import type { Resource } from "../../shared/envelope";
import {
  checkRandomHistories,
  envelope as env,
  eventOf,
  type Res,
  type Row,
  replicasBeside,
  snapshotOf,
} from "../support/replica-history";

const IDS = ["c0", "c1", "c2", "c3", "c4"];
/** Ids that are looked up but some interfaces point at without the component ever existing. */
const LOOKUP_IDS = [...IDS, "c9"];
const MACS = ["02:00:00:00:00:00", "02:00:00:00:00:01", "02:00:00:00:00:02", "02:00:00:00:00:03"];
const IFACES = ["i0", "i1", "i2", "i3", "i4", "i5"];
const ROLES = ["Compute", "Service", null] as const;
const NIDS = [1, 2, 3, null] as const;

const componentArb = fc
  .record({
    id: fc.constantFrom(...IDS),
    nid: fc.constantFrom(...NIDS),
    role: fc.constantFrom(...ROLES),
    enabled: fc.boolean(),
  })
  .map(
    (c): Row => ({
      resource: "components",
      doc: env("Component", c.id, { ...c, type: "Node", state: "Ready" }),
    }),
  );

const ifaceArb = fc
  .record({
    id: fc.constantFrom(...IFACES),
    componentId: fc.constantFrom(...LOOKUP_IDS),
    macAddress: fc.constantFrom(...MACS),
  })
  .map(
    (i): Row => ({
      resource: "interfaces",
      doc: env("EthernetInterface", i.id, { ...i, ipAddresses: [], description: "" }),
    }),
  );

/** One params id per target, as the control plane's one-per-target rule has it. */
const paramsArb = fc
  .record({
    target: fc.oneof(
      fc.constantFrom(...IDS).map((componentId) => ({ componentId, role: null, isDefault: false })),
      fc.constantFrom("Compute", "Service").map((role) => ({ componentId: null, role, isDefault: false })),
      fc.constant({ componentId: null, role: null, isDefault: true }),
    ),
    kernel: fc.constantFrom("http://images/{role}/vmlinuz", "http://images/k", "tftp://10.0.0.1/k"),
    cmdline: fc.constantFrom("", "nid={nid}", "console=ttyS0 id={id}"),
  })
  .map(({ target, kernel, cmdline }): Row => {
    const id =
      target.componentId !== null
        ? `bp-c-${target.componentId}`
        : target.role !== null
          ? `bp-r-${target.role}`
          : "bp-default";
    return {
      resource: "bootparams",
      doc: env("BootParameters", id, { id, ...target, kernelUri: kernel, initrdUri: "", cmdline }),
    };
  });

const rowArb = fc.oneof(componentArb, ifaceArb, paramsArb);

const deleteArb = fc.oneof(
  fc.constantFrom(...IDS).map((id) => ({ resource: "components" as Res, id })),
  fc.constantFrom(...IFACES).map((id) => ({ resource: "interfaces" as Res, id })),
  fc
    .constantFrom("bp-c-c0", "bp-c-c1", "bp-r-Compute", "bp-r-Service", "bp-default")
    .map((id) => ({ resource: "bootparams" as Res, id })),
);

/** Every lookup the boot script can make over this universe, with its answer. */
async function answersOf(s: BootReadStore) {
  const out: Record<string, unknown> = {};
  for (const mac of [...MACS, "02:00:00:00:00:99"]) out[`mac ${mac}`] = await s.nodeByMac(mac);
  for (const id of LOOKUP_IDS) {
    out[`id ${id}`] = await s.nodeById(id);
    for (const role of [...ROLES, "Storage" as const])
      out[`params ${id} ${role}`] = await s.paramsFor(id, role);
  }
  for (const nid of [1, 2, 3, 99])
    for (const limit of [1, 2, 5]) out[`nid ${nid} limit ${limit}`] = await s.nodesByNid(nid, limit);
  return out;
}

/** Boot parameters `id` for `target` (componentId, role or isDefault). */
const params = (id: string, target: Record<string, unknown>) =>
  env("BootParameters", id, {
    id,
    componentId: null,
    role: null,
    isDefault: false,
    ...target,
    kernelUri: `http://images/${id}`,
    initrdUri: "",
    cmdline: "",
  });

describe("the boot index answers as the SQL read port", () => {
  /** A fresh replica, and the SQL port on a second connection to its file. */
  const open = replicasBeside((db) => new ReplicaBootStore(db));

  it("is what the replica serves", () => {
    const r = open();
    try {
      expect(r.replica.boot).toBeInstanceOf(BootIndex);
    } finally {
      r.close();
    }
  });

  it("after every snapshot, event batch, failed batch and reset of random histories", async () => {
    await checkRandomHistories(open, { rowArb, deleteArb }, (r) => r.boot, answersOf);
  });

  it("follows a MAC from one node to another, and a node through its role, nid and removal", async () => {
    const { replica, sql, close } = open();
    const component = (id: string, role: string | null, nid: number | null, enabled = true) =>
      env("Component", id, { id, role, nid, enabled });
    const iface = (id: string, componentId: string, macAddress: string) =>
      env("EthernetInterface", id, { id, componentId, macAddress, ipAddresses: [] });
    const ev = (position: number, resource: Res, doc: Resource<unknown> | string) =>
      eventOf(
        position,
        typeof doc === "string" ? { del: { resource, id: doc } } : { put: { resource, doc } as Row },
      );
    const [m0, m1] = MACS as [string, string];
    try {
      replica.applySnapshot({
        ...snapshotOf(1, []),
        components: [component("c0", "Compute", 1), component("c1", "Service", 2)],
        interfaces: [iface("i0", "c0", m0)],
        bootparams: [params("bp-r-Compute", { role: "Compute" }), params("bp-default", { isDefault: true })],
      });
      expect(await replica.boot.nodeByMac(m0)).toMatchObject({ id: "c0" });
      const compute = (await replica.boot.paramsFor("c0", "Compute")).role;
      expect(compute).toMatchObject({ id: "bp-r-Compute" });

      // The MAC moves: the old interface takes another MAC, a new one on c1 takes it.
      replica.applyEvents([
        ev(2, "interfaces", iface("i0", "c0", m1)),
        ev(3, "interfaces", iface("i1", "c1", m0)),
      ]);
      expect(await replica.boot.nodeByMac(m0)).toMatchObject({ id: "c1", role: "Service" });
      expect(await replica.boot.nodeByMac(m1)).toMatchObject({ id: "c0" });

      // c1 becomes Compute and takes c0's nid; then c0 is deleted.
      replica.applyEvents([ev(4, "components", component("c1", "Compute", 1))]);
      expect((await replica.boot.nodesByNid(1, 2)).map((n) => n.id)).toEqual(["c0", "c1"]);
      // The role's params are one object, parsed once, shared by every node of the role.
      expect((await replica.boot.paramsFor("c1", "Compute")).role).toBe(compute);
      replica.applyEvents([ev(5, "components", "c0")]);
      expect(await replica.boot.nodesByNid(1, 2)).toEqual([
        { id: "c1", nid: 1, role: "Compute", enabled: true },
      ]);
      expect(await replica.boot.nodeByMac(m1)).toBeUndefined();
      expect(await replica.boot.nodeById("c0")).toBeUndefined();

      replica.applyEvents([ev(6, "bootparams", "bp-default")]);
      expect(await replica.boot.paramsFor("c1", null)).toEqual({});
      expect(await answersOf(replica.boot)).toEqual(await answersOf(sql));

      replica.reset();
      expect(await answersOf(replica.boot)).toEqual(await answersOf(sql));
      expect(await replica.boot.nodeByMac(m0)).toBeUndefined();
    } finally {
      close();
    }
  });

  it("classifies params rows with two targets as the SQL port does", async () => {
    const { replica, sql, close } = open();
    const components = IDS.map((id, i) =>
      env("Component", id, { id, role: ROLES[i % ROLES.length], nid: i, enabled: true }),
    );
    try {
      // Never written by the control plane, but a replica takes what it is given.
      for (const bootparams of [
        [params("bp-x", { componentId: "c0", isDefault: true }), params("bp-r", { role: "Compute" })],
        [params("bp-y", { role: "Compute", isDefault: true }), params("bp-c", { componentId: "c1" })],
        [params("bp-z", { componentId: "c2", role: "Service" }), params("bp-d", { isDefault: true })],
      ]) {
        replica.applySnapshot({ ...snapshotOf(1, []), components, bootparams });
        expect(await answersOf(replica.boot)).toEqual(await answersOf(sql));
      }
    } finally {
      close();
    }
  });

  it("loads what the replica already holds when it opens", async () => {
    const { replica: first, at, close } = open();
    first.applySnapshot({
      ...snapshotOf(1, []),
      components: [env("Component", "c0", { id: "c0", role: null, nid: 7, enabled: false })],
      interfaces: [
        env("EthernetInterface", "i0", { id: "i0", componentId: "c0", macAddress: MACS[0], ipAddresses: [] }),
      ],
    });
    close();
    const again = Replica.open(at, { sqlite: openBetterSqlite });
    try {
      expect(await again.boot.nodeByMac(MACS[0]!)).toEqual({ id: "c0", nid: 7, role: null, enabled: false });
      expect(await again.boot.nodesByNid(7, 2)).toHaveLength(1);
    } finally {
      again.close();
    }
  });
});
