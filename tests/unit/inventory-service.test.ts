import { describe, expect, it } from "vitest";
import type { Component, Group, Interface } from "../../functions/inventory/schemas";
import {
  buildComponent,
  buildGroup,
  buildInterface,
  buildNewComponents,
  checkPathId,
  defaultInterfaceId,
  mergeComponent,
  mergeGroup,
  mergeInterface,
} from "../../functions/inventory/service";
import { ApiError } from "../../shared/problem";

/** The ApiError that `fn` throws. */
function apiError(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
  throw new Error("expected an ApiError");
}

const node: Component = {
  id: "x1000c0s0b0n0",
  type: "Node",
  state: "Ready",
  role: "Compute",
  subRole: "Worker",
  nid: 17,
  parentId: "x1000c0s0b0",
  rack: "x1000",
  unit: 4,
  slot: 1,
  subSlot: 0,
  flag: "Warning",
  arch: "X86",
  netType: "Ethernet",
  enabled: false,
};

describe("buildComponent", () => {
  it("takes the type and rack from an xname id, with defaults elsewhere", () => {
    expect(buildComponent({ id: "x1000c0s0b0n0" })).toEqual({
      id: "x1000c0s0b0n0",
      type: "Node",
      state: "Empty",
      role: null,
      subRole: null,
      nid: null,
      parentId: null,
      rack: "x1000",
      unit: null,
      slot: null,
      subSlot: null,
      flag: "OK",
      arch: null,
      netType: null,
      enabled: true,
    });
  });

  it("lets an explicit type and rack win over the xname", () => {
    const c = buildComponent({ id: "x1000c0s0b0n0", type: "VirtualNode", rack: "row-A" });
    expect(c.type).toBe("VirtualNode");
    expect(c.rack).toBe("row-A");
  });

  it("keeps what the client gave", () => {
    const { id: _id, ...rest } = node;
    expect(buildComponent({ id: "n17", ...rest })).toEqual({ ...node, id: "n17" });
  });

  it("generates a <type>-<8 hex> id when there is none", () => {
    const c = buildComponent({ type: "Node" });
    expect(c.id).toMatch(/^node-[0-9a-f]{8}$/);
    expect(c.rack).toBeNull();
    expect(buildComponent({ type: "Node" }).id).not.toBe(c.id);
  });

  it("accepts a non-xname id with an explicit type, without a rack", () => {
    const c = buildComponent({ id: "login-1", type: "Node" });
    expect(c).toMatchObject({ id: "login-1", type: "Node", rack: null });
  });

  it.each([
    ["a non-xname id", { id: "node-1" }],
    ["no id at all", {}],
  ])("refuses %s without a type (422 on type)", (_what, input) => {
    const e = apiError(() => buildComponent(input));
    expect(e.status).toBe(422);
    expect(e.errors).toEqual([
      { field: "type", message: "is required unless id is an xname (which implies the type)" },
    ]);
  });

  it("prefixes the field of the error", () => {
    const e = apiError(() => buildComponent({ id: "node-1" }, "components[2]."));
    expect(e.errors?.[0]?.field).toBe("components[2].type");
  });

  it("does not carry embedded interfaces into the component", () => {
    const c = buildComponent({ type: "Node", interfaces: [{ macAddress: "aa:bb:cc:dd:ee:ff" }] });
    expect(c).not.toHaveProperty("interfaces");
  });
});

describe("mergeComponent (JSON Merge Patch)", () => {
  it("keeps every field absent from the patch", () => {
    expect(mergeComponent(node, {})).toEqual(node);
    expect(mergeComponent(node, { state: "Off" })).toEqual({ ...node, state: "Off" });
  });

  it("resets fields with a default to that default on null", () => {
    expect(mergeComponent(node, { state: null, flag: null, enabled: null })).toEqual({
      ...node,
      state: "Empty",
      flag: "OK",
      enabled: true,
    });
  });

  it("clears nullable fields on null", () => {
    const cleared = {
      role: null,
      subRole: null,
      nid: null,
      parentId: null,
      rack: null,
      unit: null,
      slot: null,
      subSlot: null,
      arch: null,
      netType: null,
    } as const;
    expect(mergeComponent(node, cleared)).toEqual({ ...node, ...cleared });
  });

  it("changes the type and keeps enabled=false when set explicitly", () => {
    expect(mergeComponent(node, { type: "VirtualNode", enabled: false })).toEqual({
      ...node,
      type: "VirtualNode",
    });
  });

  it("does not modify the current component", () => {
    const before = structuredClone(node);
    mergeComponent(node, { state: null, rack: null });
    expect(node).toEqual(before);
  });

  it("refuses to remove the type", () => {
    const e = apiError(() => mergeComponent(node, { type: null }));
    expect(e.status).toBe(422);
    expect(e.errors).toEqual([{ field: "type", message: "cannot be null" }]);
  });

  it("accepts the same id but refuses another one", () => {
    expect(mergeComponent(node, { id: node.id, nid: 1 }).nid).toBe(1);
    const e = apiError(() => mergeComponent(node, { id: "x1000c0s0b0n1" }));
    expect(e.status).toBe(422);
    expect(e.errors?.[0]?.field).toBe("id");
  });
});

describe("checkPathId", () => {
  it("accepts an absent or equal id and refuses another", () => {
    expect(() => checkPathId(undefined, "a1")).not.toThrow();
    expect(() => checkPathId("a1", "a1")).not.toThrow();
    const e = apiError(() => checkPathId("b2", "a1", "name"));
    expect(e.status).toBe(422);
    expect(e.errors).toEqual([{ field: "name", message: "must be 'a1' (the value in the path) or absent" }]);
  });
});

describe("interfaces", () => {
  it("default id is the MAC without colons", () => {
    expect(defaultInterfaceId("a4:bf:01:38:ee:65")).toBe("a4bf0138ee65");
    expect(buildInterface("x1000c0s0b0n0", { macAddress: "a4:bf:01:38:ee:65" })).toEqual({
      id: "a4bf0138ee65",
      componentId: "x1000c0s0b0n0",
      macAddress: "a4:bf:01:38:ee:65",
      ipAddresses: [],
      description: "",
    });
  });

  it("keeps a given id, description and addresses, defaulting network to null", () => {
    const f = buildInterface("n1", {
      id: "eth0-n1",
      macAddress: "aa:bb:cc:dd:ee:ff",
      description: "mgmt port",
      ipAddresses: [{ ipAddress: "10.1.0.17" }, { ipAddress: "10.2.0.17", network: "hsn" }],
    });
    expect(f).toEqual({
      id: "eth0-n1",
      componentId: "n1",
      macAddress: "aa:bb:cc:dd:ee:ff",
      description: "mgmt port",
      ipAddresses: [
        { ipAddress: "10.1.0.17", network: null },
        { ipAddress: "10.2.0.17", network: "hsn" },
      ],
    });
  });

  const iface: Interface = {
    id: "aabbccddeeff",
    componentId: "n1",
    macAddress: "aa:bb:cc:dd:ee:ff",
    ipAddresses: [{ ipAddress: "10.1.0.17", network: "mgmt" }],
    description: "mgmt",
  };

  it("mergeInterface keeps absent fields", () => {
    expect(mergeInterface(iface, {})).toEqual(iface);
  });

  it("mergeInterface replaces given fields and keeps the id", () => {
    expect(
      mergeInterface(iface, {
        componentId: "n2",
        macAddress: "11:22:33:44:55:66",
        ipAddresses: [{ ipAddress: "10.9.0.1" }],
        description: "moved",
      }),
    ).toEqual({
      id: "aabbccddeeff",
      componentId: "n2",
      macAddress: "11:22:33:44:55:66",
      ipAddresses: [{ ipAddress: "10.9.0.1", network: null }],
      description: "moved",
    });
  });

  it("mergeInterface clears addresses and description on null", () => {
    expect(mergeInterface(iface, { ipAddresses: null, description: null })).toEqual({
      ...iface,
      ipAddresses: [],
      description: "",
    });
  });

  it("mergeInterface refuses another id", () => {
    expect(mergeInterface(iface, { id: iface.id }).id).toBe(iface.id);
    expect(apiError(() => mergeInterface(iface, { id: "other" })).status).toBe(422);
  });
});

describe("groups", () => {
  const group: Group = { name: "compute", description: "all compute", tags: ["hpc"], members: ["n1", "n2"] };

  it("buildGroup fills defaults and dedupes members in order", () => {
    expect(buildGroup({ name: "g1" })).toEqual({ name: "g1", description: "", tags: [], members: [] });
    expect(buildGroup({ name: "g1", members: ["n2", "n1", "n2"] }).members).toEqual(["n2", "n1"]);
  });

  it("mergeGroup keeps absent fields", () => {
    expect(mergeGroup(group, {})).toEqual(group);
  });

  it("mergeGroup replaces and dedupes members", () => {
    expect(mergeGroup(group, { members: ["n3", "n3", "n4", "n3"] }).members).toEqual(["n3", "n4"]);
  });

  it("mergeGroup clears members, tags and description on null", () => {
    expect(mergeGroup(group, { members: null, tags: null, description: null })).toEqual({
      name: "compute",
      description: "",
      tags: [],
      members: [],
    });
  });

  it("mergeGroup refuses a rename, naming the name field", () => {
    expect(mergeGroup(group, { name: "compute", tags: ["x"] }).tags).toEqual(["x"]);
    const e = apiError(() => mergeGroup(group, { name: "other" }));
    expect(e.status).toBe(422);
    expect(e.errors?.[0]?.field).toBe("name");
  });
});

describe("buildNewComponents", () => {
  const pathOf = (i: number) => `components[${i}].`;

  it("builds components with their interfaces", () => {
    const items = buildNewComponents(
      [
        { id: "x1000c0s0b0n0", interfaces: [{ macAddress: "aa:bb:cc:dd:ee:01" }] },
        { type: "Switch", interfaces: [] },
      ],
      pathOf,
    );
    expect(items).toHaveLength(2);
    expect(items[0]?.component.type).toBe("Node");
    expect(items[0]?.interfaces).toEqual([
      {
        id: "aabbccddee01",
        componentId: "x1000c0s0b0n0",
        macAddress: "aa:bb:cc:dd:ee:01",
        ipAddresses: [],
        description: "",
      },
    ]);
    expect(items[1]?.component.id).toMatch(/^switch-[0-9a-f]{8}$/);
    expect(items[1]?.interfaces).toEqual([]);
  });

  it("links interfaces to the generated id", () => {
    const [item] = buildNewComponents(
      [{ type: "Node", interfaces: [{ macAddress: "aa:bb:cc:dd:ee:02" }] }],
      pathOf,
    );
    expect(item?.interfaces[0]?.componentId).toBe(item?.component.id);
  });

  it("collects the errors of every bad item, each under its own path, and builds nothing", () => {
    const e = apiError(() =>
      buildNewComponents([{ id: "login-1" }, { id: "x1000c0s0b0n0" }, {}, { id: "node-7" }], pathOf),
    );
    expect(e.status).toBe(422);
    expect(e.message).toBe("Some components are not valid; nothing was written");
    expect(e.errors?.map((f) => f.field)).toEqual([
      "components[0].type",
      "components[2].type",
      "components[3].type",
    ]);
  });

  it("uses bare field names for a single create", () => {
    const e = apiError(() => buildNewComponents([{ id: "login-1" }], () => ""));
    expect(e.errors?.[0]?.field).toBe("type");
  });
});
