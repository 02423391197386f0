import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ReplicaCloudInitStore } from "../../edge-node/replica";
import { CloudInitIndex } from "../../edge-node/replica/cloud-init-index";
import { DOCUMENTS } from "../../functions/cloud-init/schemas";
import { cloudInitDocument } from "../../functions/cloud-init/serve";
import type { CloudInitReadStore } from "../../functions/cloud-init/store";
import {
  checkRandomHistories,
  envelope,
  eventOf,
  type Res,
  type Row,
  replicasBeside,
  snapshotOf,
} from "../support/replica-history";

const IDS = ["c0", "c1", "c2", "c3"];
/** Ids looked up, and named by interfaces and groups, without the component ever existing. */
const LOOKUP_IDS = [...IDS, "c9"];
const MACS = ["02:00:00:00:00:00", "02:00:00:00:00:01", "02:00:00:00:00:02"];
const IFACES = ["i0", "i1", "i2", "i3", "i4"];
/** Spellings that are one address, one that is another, and one that is none. */
const ADDRESSES = ["10.0.0.1", "10.0.0.2", "::ffff:10.0.0.1", "fd00::1", "fd00:0::1", "not-an-ip"];
const GROUPS = ["g0", "g1", "g2"];
const ROLES = ["Compute", "Service", null] as const;

const componentArb = fc
  .record({ id: fc.constantFrom(...IDS), nid: fc.constantFrom(1, 2, null), role: fc.constantFrom(...ROLES) })
  .map(
    (c): Row => ({
      resource: "components",
      doc: envelope("Component", c.id, { ...c, enabled: true, type: "Node", state: "Ready" }),
    }),
  );

const ifaceArb = fc
  .record({
    id: fc.constantFrom(...IFACES),
    componentId: fc.constantFrom(...LOOKUP_IDS),
    macAddress: fc.constantFrom(...MACS),
    ipAddresses: fc.uniqueArray(
      fc.record({ ipAddress: fc.constantFrom(...ADDRESSES), network: fc.constantFrom("mgmt", null) }),
      { maxLength: 3, selector: (a) => a.ipAddress },
    ),
  })
  .map(
    (i): Row => ({
      resource: "interfaces",
      doc: envelope("EthernetInterface", i.id, { ...i, description: "" }),
    }),
  );

const groupArb = fc
  .record({
    name: fc.constantFrom(...GROUPS),
    members: fc.uniqueArray(fc.constantFrom(...LOOKUP_IDS), { maxLength: 4 }),
  })
  .map((g): Row => ({ resource: "groups", doc: envelope("Group", g.name, { ...g, description: "" }) }));

/** One payload id per target, as the control plane's one-per-target rule has it. */
const payloadArb = fc
  .record({
    target: fc.oneof(
      fc.constantFrom(...IDS).map((componentId) => ({ componentId, group: null, role: null })),
      fc.constantFrom(...GROUPS).map((group) => ({ componentId: null, group, role: null })),
      fc.constantFrom("Compute", "Service").map((role) => ({ componentId: null, group: null, role })),
    ),
    userData: fc.constantFrom(
      null,
      "#cloud-config\npackages: [vim]\n",
      "#cloud-config\nruncmd: [[ls]]\n",
      "#!/bin/sh\necho hi\n",
    ),
    vendorData: fc.constantFrom(null, "#cloud-config\nntp: {servers: [a]}\n"),
    metaData: fc.constantFrom(null, { rack: "r1" }, { rack: "r2", site: "s" }),
    bindToAddress: fc.boolean(),
  })
  .map(({ target, ...rest }): Row => {
    const id = `pl-${target.componentId ?? target.group ?? target.role}`;
    return { resource: "payloads", doc: envelope("Payload", id, { id, ...target, ...rest }) };
  });

const rowArb = fc.oneof(componentArb, ifaceArb, groupArb, payloadArb);

const deleteArb = fc.oneof(
  fc.constantFrom(...IDS).map((id) => ({ resource: "components" as Res, id })),
  fc.constantFrom(...IFACES).map((id) => ({ resource: "interfaces" as Res, id })),
  fc.constantFrom(...GROUPS).map((id) => ({ resource: "groups" as Res, id })),
  fc.constantFrom("pl-c0", "pl-g0", "pl-Compute").map((id) => ({ resource: "payloads" as Res, id })),
);

const settle = async <T>(p: Promise<T>) =>
  p.then(
    (v) => ({ v }),
    (e: Error) => ({ e: e.message }),
  );

/** Every lookup serving can make over this universe, with its answer, and every document served. */
async function answersOf(s: CloudInitReadStore) {
  const out: Record<string, unknown> = {};
  for (const mac of [...MACS, "02:00:00:00:00:99"]) out[`mac ${mac}`] = await s.nodeByMac(mac);
  for (const a of ADDRESSES) out[`address ${a}`] = await s.componentsWithAddress(a);
  for (const id of LOOKUP_IDS) {
    const node = await s.nodeById(id);
    out[`id ${id}`] = node;
    for (const role of ROLES)
      for (const groups of [[], ["g0"], GROUPS]) {
        // In any order, as the port has it: the documents below show that the order does not matter.
        const found = await s.payloadsFor({ componentId: id, groups, role });
        out[`payloads ${id} ${role} ${groups}`] = [...found].sort((a, b) => (a.id < b.id ? -1 : 1));
      }
    if (node)
      for (const name of DOCUMENTS)
        for (const caller of ["10.0.0.1", undefined])
          out[`${name} ${id} ${caller}`] = await settle(cloudInitDocument(s, name, node, caller));
  }
  return out;
}

describe("the cloud-init index answers as the SQL read port", () => {
  /** A fresh replica, and the SQL port on a second connection to its file. */
  const open = replicasBeside((db) => new ReplicaCloudInitStore(db));

  it("is what the replica serves", () => {
    const r = open();
    try {
      expect(r.replica.cloudInit).toBeInstanceOf(CloudInitIndex);
    } finally {
      r.close();
    }
  });

  it("after every snapshot, event batch, failed batch and reset of random histories", async () => {
    await checkRandomHistories(open, { rowArb, deleteArb }, (r) => r.cloudInit, answersOf);
  });

  it("reads a role's payload once, and hands every node of the role the same one", async () => {
    const { replica, close } = open();
    try {
      const payload = envelope("Payload", "pl-Compute", {
        id: "pl-Compute",
        componentId: null,
        group: null,
        role: "Compute",
        userData: "#cloud-config\npackages: [munge]\n",
        vendorData: null,
        metaData: null,
        bindToAddress: false,
      });
      replica.applySnapshot({
        ...snapshotOf(1, []),
        components: ["c0", "c1"].map((id) =>
          envelope("Component", id, { id, nid: null, role: "Compute", enabled: true }),
        ),
        payloads: [payload],
      });
      const [a] = await replica.cloudInit.payloadsFor({ componentId: "c0", groups: [], role: "Compute" });
      const [b] = await replica.cloudInit.payloadsFor({ componentId: "c1", groups: [], role: "Compute" });
      expect(a).toBe(b);
      expect(Object.isFrozen(a)).toBe(true);
      // A change to it is seen by the next request, as a new object.
      replica.applyEvents([
        eventOf(2, {
          put: {
            resource: "payloads",
            doc: { ...payload, spec: { ...(payload.spec as object), userData: "#!/bin/sh\n" } },
          },
        }),
      ]);
      const [c] = await replica.cloudInit.payloadsFor({ componentId: "c0", groups: [], role: "Compute" });
      expect(c).not.toBe(a);
      expect(c!.userData).toBe("#!/bin/sh\n");
    } finally {
      close();
    }
  });
});
