/**
 * Boot-parameter rules without storage (exactly one target, defaults, JSON
 * Merge Patch) and the boot script's read budget: two store reads for a
 * node that boots, one for a node that does not exist.
 */
import { describe, expect, it } from "vitest";
import { resolveBoot } from "../../functions/boot/bootscript";
import type { BootParams } from "../../functions/boot/schemas";
import { buildBootParams, checkOneTarget, mergeBootParams } from "../../functions/boot/service";
import type { BootNode, BootReadStore } from "../../functions/boot/store";
import { ApiError } from "../../shared/problem";

const base: BootParams = {
  id: "bp-1",
  componentId: null,
  role: "Compute",
  isDefault: false,
  kernelUri: "http://x/vmlinuz",
  initrdUri: "http://x/initrd",
  cmdline: "quiet",
  kernel: null,
  initrd: null,
};

/** The 422's field names, or a failure when `fn` does not throw one. */
function fieldsOf(fn: () => unknown): string[] {
  try {
    fn();
  } catch (e) {
    if (e instanceof ApiError && e.status === 422) return (e.errors ?? []).map((x) => x.field);
    throw e;
  }
  throw new Error("expected a 422");
}

describe("boot params: exactly one target", () => {
  it("accepts a component, a role or the default", () => {
    expect(checkOneTarget({ ...base })).toEqual(base);
    expect(checkOneTarget({ ...base, role: null, componentId: "n1" }).componentId).toBe("n1");
    expect(checkOneTarget({ ...base, role: null, isDefault: true }).isDefault).toBe(true);
  });

  it("names every target field when none is set, the ones set when several are", () => {
    expect(fieldsOf(() => checkOneTarget({ ...base, role: null }))).toEqual([
      "componentId",
      "role",
      "isDefault",
    ]);
    expect(fieldsOf(() => checkOneTarget({ ...base, componentId: "n1", isDefault: true }))).toEqual([
      "componentId",
      "role",
      "isDefault",
    ]);
    expect(fieldsOf(() => checkOneTarget({ ...base, isDefault: true }))).toEqual(["role", "isDefault"]);
  });
});

describe("boot params: build and merge", () => {
  it("fills defaults and generates bp-<8 hex> without an id", () => {
    const p = buildBootParams({ isDefault: true, kernelUri: "http://x/v" });
    expect(p).toEqual({
      id: expect.stringMatching(/^bp-[0-9a-f]{8}$/),
      componentId: null,
      role: null,
      isDefault: true,
      kernelUri: "http://x/v",
      initrdUri: "",
      cmdline: "",
      kernel: null,
      initrd: null,
    });
    expect(buildBootParams({ role: "Service", kernelUri: "http://x/v" }, "bp-path").id).toBe("bp-path");
  });

  it("merge-patches: absent keeps, null clears, targets move", () => {
    expect(mergeBootParams(base, {})).toEqual(base);
    expect(mergeBootParams(base, { cmdline: null, initrdUri: null })).toMatchObject({
      cmdline: "",
      initrdUri: "",
    });
    expect(mergeBootParams(base, { role: null, componentId: "n1" })).toMatchObject({
      role: null,
      componentId: "n1",
    });
    expect(mergeBootParams(base, { role: null, isDefault: true })).toMatchObject({
      role: null,
      isDefault: true,
    });
  });

  it("refuses a patch that removes the kernel, changes the id or leaves no single target", () => {
    expect(fieldsOf(() => mergeBootParams(base, { kernelUri: null }))).toEqual(["kernelUri", "kernel"]);
    expect(fieldsOf(() => mergeBootParams(base, { id: "bp-2" }))).toEqual(["id"]);
    expect(fieldsOf(() => mergeBootParams(base, { role: null }))).toEqual([
      "componentId",
      "role",
      "isDefault",
    ]);
    expect(fieldsOf(() => mergeBootParams(base, { isDefault: true }))).toEqual(["role", "isDefault"]);
  });
});

describe("boot script reads", () => {
  /** A store that counts its reads. */
  function countingStore(nodes: BootNode[]) {
    const calls: string[] = [];
    const store: BootReadStore = {
      async nodeByMac(mac) {
        calls.push(`nodeByMac ${mac}`);
        return mac === "aa:bb:cc:dd:ee:ff" ? nodes[0] : undefined;
      },
      async nodeById(id) {
        calls.push(`nodeById ${id}`);
        return nodes.find((n) => n.id === id);
      },
      async nodesByNid(nid, limit) {
        calls.push(`nodesByNid ${nid} ${limit}`);
        return nodes.filter((n) => n.nid === nid).slice(0, limit);
      },
      async paramsFor(id, role) {
        calls.push(`paramsFor ${id} ${role}`);
        return { default: { ...base, role: null, isDefault: true } };
      },
    };
    return { store, calls };
  }
  const n1: BootNode = { id: "n1", nid: 1, role: "Compute", enabled: true };

  it("reads the node, then its params: two reads for a node that boots", async () => {
    const { store, calls } = countingStore([n1]);
    expect((await resolveBoot(store, { by: "mac", mac: "aa:bb:cc:dd:ee:ff" })).kind).toBe("boot");
    expect(calls).toEqual(["nodeByMac aa:bb:cc:dd:ee:ff", "paramsFor n1 Compute"]);
  });

  it("stops after one read for an unknown, disabled or ambiguous node", async () => {
    for (const [nodes, lookup] of [
      [[n1], { by: "mac", mac: "00:00:00:00:00:01" }],
      [[{ ...n1, enabled: false }], { by: "name", id: "n1" }],
      [[n1, { ...n1, id: "n2" }], { by: "nid", nid: 1 }],
    ] as const) {
      const { store, calls } = countingStore([...nodes]);
      expect((await resolveBoot(store, lookup)).kind).toBe("wait");
      expect(calls.length).toBe(1);
    }
  });
});
