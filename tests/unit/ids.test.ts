import { describe, expect, it } from "vitest";
import { generateId, isValidId, isXname, parseXname } from "../../shared/ids";

describe("isValidId", () => {
  it.each(["x1000c0s0b0n0", "node-1a2b3c4d", "ab", "a1", "rack_7.node-03", "A.B", "a".repeat(255)])(
    "accepts %s",
    (id) => {
      expect(isValidId(id)).toBe(true);
    },
  );

  it.each([
    ["empty", ""],
    ["one character", "a"],
    ["256 characters", "a".repeat(256)],
    ["leading -", "-node"],
    ["trailing -", "node-"],
    ["leading .", ".node"],
    ["trailing .", "node."],
    ["leading _", "_node"],
    ["a space inside", "node 1"],
    ["a surrounding space", " node1"],
    ["a slash", "rack/node1"],
    ["a backslash", "rack\\node1"],
    ["a trailing newline", "node1\n"],
    ["unicode letters", "nœud-1"],
    ["unicode digits", "node-١٢"],
    ["a colon (MAC-like)", "aa:bb"],
  ])("rejects %s", (_what, id) => {
    expect(isValidId(id)).toBe(false);
  });
});

describe("generateId", () => {
  it("is the lower-cased type, a dash and 8 hex digits", () => {
    expect(generateId("Node")).toMatch(/^node-[0-9a-f]{8}$/);
    expect(generateId("NodeBMC")).toMatch(/^nodebmc-[0-9a-f]{8}$/);
  });

  it("is a valid id", () => {
    expect(isValidId(generateId("Node"))).toBe(true);
  });

  it("differs between calls", () => {
    const ids = new Set(Array.from({ length: 50 }, () => generateId("Node")));
    expect(ids.size).toBe(50);
  });
});

describe("parseXname", () => {
  it("names a node, its cabinet and its BMC parent", () => {
    expect(parseXname("x1000c0s0b0n0")).toEqual({
      type: "Node",
      cabinet: "x1000",
      parent: "x1000c0s0b0",
    });
  });

  it("names a node BMC with its compute module parent", () => {
    expect(parseXname("x1000c0s0b0")).toEqual({ type: "NodeBMC", cabinet: "x1000", parent: "x1000c0s0" });
  });

  it("names a cabinet, which has no parent", () => {
    expect(parseXname("x1000")).toEqual({ type: "Cabinet", cabinet: "x1000", parent: undefined });
  });

  it("handles multi-digit ordinals", () => {
    expect(parseXname("x3000c12s34b1n2")).toEqual({
      type: "Node",
      cabinet: "x3000",
      parent: "x3000c12s34b1",
    });
    expect(parseXname("x1c10")).toEqual({ type: "Chassis", cabinet: "x1", parent: "x1" });
  });

  it.each([
    ["x1000c0s0b0n0p1", "Processor"],
    ["x1000c0s0b0n0d3", "Memory"],
    ["x1000c0s0b0n0a0", "NodeAccel"],
    ["x1000c0s0b0n0h0", "NodeHsnNic"],
    ["x1000c0s0b0n0i0", "NodeNic"],
    ["x1000c0s0e0", "NodeEnclosure"],
    ["x1000c0s0", "ComputeModule"],
    ["x1000c0r1b0", "RouterBMC"],
    ["x1000c0r1", "RouterModule"],
    ["x1000c0w14", "MgmtSwitch"],
    ["x1000c0h1s2", "MgmtHLSwitch"],
    ["x1000c0h1", "MgmtHLSwitchEnclosure"],
    ["x1000c0b0", "ChassisBMC"],
    ["x1000c0", "Chassis"],
    ["x1000m0p0j1", "CabinetPDUOutlet"],
    ["x1000m0p0", "CabinetPDU"],
    ["x1000m0", "CabinetPDUController"],
    ["x1000b0", "CabinetBMC"],
    ["d0w1", "CDUMgmtSwitch"],
    ["d0", "CDU"],
    ["s0", "System"],
  ])("%s is a %s", (xname, type) => {
    expect(parseXname(xname)?.type).toBe(type);
  });

  it("gives no cabinet for CDUs and the system", () => {
    expect(parseXname("d0w1")).toEqual({ type: "CDUMgmtSwitch", cabinet: undefined, parent: "d0" });
    expect(parseXname("s0")).toEqual({ type: "System", cabinet: undefined, parent: undefined });
  });

  it("is case-insensitive and answers in lower case", () => {
    expect(parseXname("X1000C0")).toEqual({ type: "Chassis", cabinet: "x1000", parent: "x1000" });
    expect(parseXname("X1000C0S0B0N0")?.parent).toBe("x1000c0s0b0");
  });

  it.each(["node-1", "", "x", "xc0", "x1000c", "x1000n0", "x1000c0s0b0n0z1", "s1", " x1000", "x1000 "])(
    "%j is not an xname",
    (id) => {
      expect(parseXname(id)).toBeUndefined();
      expect(isXname(id)).toBe(false);
    },
  );
});
