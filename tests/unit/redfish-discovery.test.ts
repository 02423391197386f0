/**
 * Redfish discovery over the DMTF mockups (tests/support/mockup-reader.ts):
 * the whole result of each mockup against a golden file (UPDATE_GOLDEN=1
 * rewrites them), then what an operator would notice: the MACs, one node
 * per blade, no node from a PDU, the same ids on a re-scan, naming by map
 * and by rule, and broken or doctored answers that become problems while
 * the rest is still discovered.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { DiscoveredComponentSchema } from "../../functions/inventory/schemas";
import { type DiscoverOptions, discoverBmc } from "../../functions/redfish/discovery";
import {
  describeDrivers,
  discoveryDrivers,
  importDriver,
  RedfishOptionsSchema,
} from "../../functions/redfish/drivers";
import { parseRule, renderRule } from "../../functions/redfish/naming";
import { type Doctor, MockupReader } from "../support/mockup-reader";

const GOLDEN = join(import.meta.dirname, "../golden/redfish");

function golden(name: string, value: unknown) {
  const file = join(GOLDEN, name);
  const text = `${JSON.stringify(value, null, 2)}\n`;
  if (process.env.UPDATE_GOLDEN) writeFileSync(file, text);
  expect(text).toBe(readFileSync(file, "utf8"));
}

const RACK = "/redfish/v1/Systems/437XR1138R2";
const scan = (mockup: string, opts: DiscoverOptions = {}, doctor?: Doctor) =>
  discoverBmc(MockupReader.of(mockup, doctor), opts);
const ids = (r: { components: { id?: string }[] }) => r.components.map((c) => c.id);
const macs = (r: Awaited<ReturnType<typeof scan>>, id: string) =>
  r.components.find((c) => c.id === id)?.interfaces?.map((f) => f.macAddress) ?? [];

/** Each mockup with the naming a site would give it; the PDU without any, to show the fallback. */
const MOCKUPS: [string, DiscoverOptions][] = [
  ["public-rackmount1", { address: "192.168.0.10", naming: { map: { "192.168.0.10": "x1000c0s0b0" } } }],
  ["public-tower", { address: "192.168.0.10", naming: { rule: "x{c+3000}c0s{d}b0" } }],
  ["public-bladed", { address: "192.168.56.100", naming: { map: { "192.168.56.100": "x1000c1s0b0" } } }],
  ["public-pdu", { address: "192.168.0.10" }],
];

describe("discoverBmc over the DMTF mockups", () => {
  it.each(MOCKUPS)("%s: the components, problems and hardware of the golden file", async (mockup, opts) => {
    const r = await scan(mockup, opts);
    golden(`${mockup}.json`, r);
    // What a discovery agent's report is validated with takes every item. (The import endpoint does
    // not: the mockups' NICs have group-bit MACs such as 23:11:8a:…, which no real NIC has.)
    for (const c of r.components) expect(DiscoveredComponentSchema.safeParse(c).success).toBe(true);
  });

  it("the rackmount's node has the MACs the mockup lists, one per MAC, not the host interface", async () => {
    const r = await scan("public-rackmount1", MOCKUPS[0]![1]);
    expect(ids(r)).toEqual(["x1000c0", "x1000c0s0b0", "x1000c0s0b0n0"]);
    // NIC 1 and its VLAN share a MAC: one interface with both addresses. NIC 2's MAC in use, not its permanent one.
    expect(macs(r, "x1000c0s0b0n0")).toEqual(["12:44:6a:3b:04:11", "aa:bb:cc:dd:ee:00"]);
    const node = r.components[2]!;
    expect(node).toMatchObject({ type: "Node", state: "On", parentId: "x1000c0s0b0" });
    expect(node.interfaces![0]!.ipAddresses).toEqual([
      { ipAddress: "192.168.0.10" },
      { ipAddress: "192.168.150.236" },
    ]);
    expect(macs(r, "x1000c0s0b0")).toEqual(["23:11:8a:33:cf:ea"]);
    expect(r.components[1]).toMatchObject({ type: "NodeBMC", state: "Ready", parentId: "x1000c0" });
    expect(r.hardware.x1000c0s0b0n0).toMatchObject({
      serialNumber: "437XR1138R2",
      manufacturer: "Contoso",
    });
    expect(r.problems).toEqual([]);
  });

  it("the bladed enclosure gives one node per system, with distinct xnames under one BMC", async () => {
    const r = await scan("public-bladed", MOCKUPS[2]![1]);
    const nodes = r.components.filter((c) => c.type === "Node");
    expect(nodes.map((n) => n.id)).toEqual([
      "x1000c1s0b0n0",
      "x1000c1s0b0n1",
      "x1000c1s0b0n2",
      "x1000c1s0b0n3",
    ]);
    expect(new Set(nodes.map((n) => n.parentId))).toEqual(new Set(["x1000c1s0b0"]));
    expect(r.components.filter((c) => c.type === "NodeBMC")).toHaveLength(1);
    // The blades' own managers are reported, not imported.
    expect(r.bmc.otherManagers.map((m) => m.redfish)).toHaveLength(4);
    // Its systems list no EthernetInterfaces: said, not thrown.
    expect(r.problems.filter((p) => /no EthernetInterfaces/.test(p.message))).toHaveLength(4);
  });

  it("the PDU gives no node and no crash, and is named by its MAC with a hint to map it", async () => {
    const r = await scan("public-pdu", { address: "192.168.0.10" });
    expect(r.components.some((c) => c.type === "Node")).toBe(false);
    expect(r.components).toEqual([expect.objectContaining({ id: "pdu-23118a33cfea", type: "PDU" })]);
    expect(r.bmc.namedBy).toBe("fallback");
    expect(r.problems[0]!.message).toMatch(/naming map entry such as \{"192\.168\.0\.10": "x3000m0"\}/);
  });

  it("a re-scan gives the same ids, with and without naming", async () => {
    for (const [mockup, opts] of MOCKUPS) {
      const [a, b] = [await scan(mockup, opts), await scan(mockup, opts)];
      expect(ids(b)).toEqual(ids(a));
      expect(b).toEqual(a);
    }
    const [a, b] = [await scan("public-tower"), await scan("public-tower")];
    expect(ids(a)).toEqual(["nodebmc-23118a33cfea", "nodebmc-23118a33cfea-n0"]);
    expect(ids(b)).toEqual(ids(a));
  });

  it("a system that fails leaves the others their numbers", async () => {
    const r = await scan("public-bladed", MOCKUPS[2]![1], {
      "/redfish/v1/Systems/529QB9451R6": new Error("500 Internal Server Error"),
    });
    expect(ids(r).filter((id) => id?.includes("n"))).toEqual([
      "x1000c1s0b0n0",
      "x1000c1s0b0n2",
      "x1000c1s0b0n3",
    ]);
    expect(r.problems).toContainEqual({
      path: "/redfish/v1/Systems/529QB9451R6",
      message: "could not be read: 500 Internal Server Error",
    });
  });
});

describe("naming", () => {
  it("a map names the BMC by address, by one of its IPv4 addresses or by MAC in any spelling", async () => {
    const maps: Record<string, string>[] = [
      { "192.168.0.10": "x1000c0s7b0" },
      { "23-11-8A-33-CF-EA": "x1000c0s7b0" },
      { "bmc.example.org": "X1000C0S7B0" },
    ];
    for (const map of maps) {
      const address = "bmc.example.org";
      const r = await scan("public-rackmount1", { address, naming: { map } });
      expect(ids(r)).toEqual(["x1000c0", "x1000c0s7b0", "x1000c0s7b0n0"]);
      expect(r.bmc.namedBy).toBe("map");
    }
  });

  it("a map's id that is not an xname gives nodes <bmc>-n<i> and no chassis", async () => {
    const r = await scan("public-bladed", { naming: { map: { "192.168.56.100": "encl-7" } } });
    expect(ids(r)).toEqual(["encl-7", "encl-7-n0", "encl-7-n1", "encl-7-n2", "encl-7-n3"]);
  });

  it("a rule names the BMC from its IPv4 octets or its index", async () => {
    const r = await scan("public-tower", {
      address: "10.1.3.117",
      naming: { rule: "x{c+1000}c0s{d-100}b0" },
    });
    expect(r.bmc).toMatchObject({ id: "x1003c0s17b0", namedBy: "rule" });
    expect(ids(r)).toEqual(["x1003c0", "x1003c0s17b0", "x1003c0s17b0n0"]);
    const byIndex = await scan("public-tower", { index: 4, naming: { rule: "x3000c0s{index*2+1}b0" } });
    expect(byIndex.bmc.id).toBe("x3000c0s9b0");
  });

  it("the map wins over the rule; a rule that cannot name falls back with problems", async () => {
    const both = await scan("public-tower", {
      address: "192.168.0.10",
      naming: { map: { "192.168.0.10": "x1000c0s1b0" }, rule: "x9c0s{d}b0" },
    });
    expect(both.bmc.id).toBe("x1000c0s1b0");
    const r = await scan("public-tower", { naming: { rule: "x3000c0s{index}b0" } });
    expect(r.bmc).toMatchObject({ id: "nodebmc-23118a33cfea", namedBy: "fallback" });
    expect(r.problems.map((p) => p.message)).toEqual([
      "the naming rule 'x3000c0s{index}b0' uses {index}, but the scan gave no index",
      expect.stringMatching(/^no naming map entry or rule names this BMC \(192\.168\.0\.10\)/),
    ]);
  });

  it("a map entry naming something other than a BMC is refused", async () => {
    const r = await scan("public-tower", { naming: { map: { "192.168.0.10": "x1000c0s0b0n0" } } });
    expect(r.bmc.namedBy).toBe("fallback");
    expect(r.problems[0]!.message).toMatch(/the xname of a Node, not of a BMC/);
  });

  it("rules: syntax and arithmetic", () => {
    expect(renderRule("x{c+1000}c0s{d-100}b0", { ipv4: "10.1.3.117" })).toBe("x1003c0s17b0");
    expect(renderRule("x3000c0s{d-10/2}b{d%2}", { ipv4: "10.0.0.15" })).toBe("x3000c0s2b1");
    expect(renderRule("n{ index }", { index: 3 })).toBe("n3");
    expect(() => parseRule("x{e}c0")).toThrow(/not a placeholder/);
    expect(() => parseRule("x{d")).toThrow(/unbalanced/);
    expect(() => parseRule("x1000c0s0b0")).toThrow(/no placeholder/);
    expect(() => parseRule("s{d/0}")).toThrow(/divides by 0/);
    expect(() => renderRule("s{d-100}", { ipv4: "10.0.0.5" })).toThrow(/negative/);
    expect(() => renderRule("s{d}", { ipv4: "bmc.example.org" })).toThrow(/no IPv4/);
  });
});

describe("problems instead of errors", () => {
  it("a missing EthernetInterfaces collection is a problem; the rest is still discovered", async () => {
    const r = await scan("public-rackmount1", MOCKUPS[0]![1], {
      [`${RACK}/EthernetInterfaces`]: new Error(`404 Not Found: ${RACK}/EthernetInterfaces`),
    });
    expect(ids(r)).toEqual(["x1000c0", "x1000c0s0b0", "x1000c0s0b0n0"]);
    expect(r.components[2]!.interfaces).toBeUndefined();
    expect(r.components[2]!.state).toBe("On");
    expect(macs(r, "x1000c0s0b0")).toEqual(["23:11:8a:33:cf:ea"]);
    expect(r.problems).toEqual([
      {
        path: `${RACK}/EthernetInterfaces`,
        message: `could not be read: 404 Not Found: ${RACK}/EthernetInterfaces`,
      },
    ]);
  });

  it("a malformed MAC is a problem naming the field; the node keeps its other interfaces", async () => {
    const nic = `${RACK}/EthernetInterfaces/12446A3B8890`;
    const r = await scan("public-rackmount1", MOCKUPS[0]![1], {
      [nic]: (doc) => ({ ...doc, MACAddress: "AA:BB:CC:DD:EE:ZZ" }),
    });
    expect(macs(r, "x1000c0s0b0n0")).toEqual(["12:44:6a:3b:04:11"]);
    expect(r.problems).toEqual([
      {
        path: nic,
        id: "x1000c0s0b0n0",
        field: "interfaces[1].macAddress",
        message: expect.stringMatching(
          /^'AA:BB:CC:DD:EE:ZZ' must be a MAC address.*the interface is left out$/,
        ),
      },
    ]);
  });

  it("an invalid IPv4 address and a MAC seen twice are problems too", async () => {
    const r = await scan("public-rackmount1", MOCKUPS[0]![1], {
      [`${RACK}/EthernetInterfaces/12446A3B8890`]: (doc) => ({
        ...doc,
        IPv4Addresses: [{ Address: "192.168.0.300" }],
      }),
      // The BMC's MAC: the BMC, listed first, keeps it.
      [`${RACK}/EthernetInterfaces/VLAN1`]: (doc) => ({ ...doc, MACAddress: "23:11:8A:33:CF:EA" }),
    });
    expect(macs(r, "x1000c0s0b0")).toEqual(["23:11:8a:33:cf:ea"]);
    expect(macs(r, "x1000c0s0b0n0")).toEqual(["12:44:6a:3b:04:11"]);
    expect(r.problems).toEqual([
      {
        path: `${RACK}/EthernetInterfaces/12446A3B8890`,
        id: "x1000c0s0b0n0",
        field: "interfaces[1].ipAddresses[0].ipAddress",
        message: "'192.168.0.300' must be an IPv4 or IPv6 address: the interface is left out",
      },
      {
        path: `${RACK}/EthernetInterfaces/VLAN1`,
        id: "x1000c0s0b0n0",
        field: "interfaces[2].macAddress",
        message: "23:11:8a:33:cf:ea is also on x1000c0s0b0, which keeps it: the interface is left out",
      },
    ]);
  });

  it("odd answers: a non-object, a collection without Members, an interface without a MAC", async () => {
    const r = await scan("public-rackmount1", MOCKUPS[0]![1], {
      "/redfish/v1/Chassis": () => ({ Name: "no members" }),
      "/redfish/v1/Managers/BMC/EthernetInterfaces/eth0": () => "<html>",
      [`${RACK}/EthernetInterfaces/12446A3B8890`]: ({ MACAddress, PermanentMACAddress, ...doc }) => doc,
    });
    expect(ids(r)).toEqual(["x1000c0", "x1000c0s0b0", "x1000c0s0b0n0"]);
    expect(r.problems.map((p) => `${p.path}: ${p.message}`)).toEqual([
      "/redfish/v1/Chassis: is not a collection (no Members list)",
      "/redfish/v1/Managers/BMC/EthernetInterfaces/eth0: is not a JSON object",
      `${RACK}/EthernetInterfaces/12446A3B8890: reports no MAC: the interface is left out`,
    ]);
  });

  it("a BMC whose managers cannot be read is not given an id that would change later", async () => {
    const r = await scan(
      "public-tower",
      { address: "192.168.0.10" },
      { "/redfish/v1/Managers": new Error("timeout") },
    );
    expect(r.components).toEqual([]);
    expect(r.problems.at(-1)!.message).toMatch(/reports no MAC for a fallback id/);
    // With a map entry, the same scan discovers everything but the BMC's interfaces.
    const named = await scan(
      "public-tower",
      { address: "192.168.0.10", naming: { map: { "192.168.0.10": "x1000c0s0b0" } } },
      { "/redfish/v1/Managers": new Error("timeout") },
    );
    expect(ids(named)).toEqual(["x1000c0", "x1000c0s0b0", "x1000c0s0b0n0"]);
  });

  it("only a failing service root rejects, with the reader's error", async () => {
    const down = new Error("connect ECONNREFUSED");
    await expect(scan("public-tower", {}, { "/redfish/v1": down })).rejects.toBe(down);
  });
});

describe("drivers", () => {
  it("lists redfish and import with their options", () => {
    expect(discoveryDrivers.map((d) => d.name)).toEqual(["redfish", "import"]);
    const [redfish] = describeDrivers();
    expect(Object.keys((redfish!.options as { properties: object }).properties)).toEqual([
      "naming",
      "auth",
      "insecure",
    ]);
    expect(RedfishOptionsSchema.parse({})).toEqual({ auth: "basic", insecure: false });
    const bad = RedfishOptionsSchema.safeParse({ naming: { rule: "x{e}" }, auth: "digest" });
    expect(bad.error?.issues.map((i) => i.path.join("."))).toEqual(["naming.rule", "auth"]);
  });

  it("import reads CSV and nodes.yaml through the CLI's importer, problems with file lines", () => {
    const csv = importDriver(
      "xname,mac,ip,group\nx1000c0s0b0n0,AA-BB-CC-00-00-01,10.0.0.1,compute\nx1000c0s0b0n1,nope,,\n",
      "csv",
      "nodes.csv",
    );
    expect(csv.components).toEqual([
      {
        id: "x1000c0s0b0n0",
        interfaces: [{ macAddress: "aa:bb:cc:00:00:01", ipAddresses: [{ ipAddress: "10.0.0.1" }] }],
      },
    ]);
    expect(csv.groups).toEqual({ compute: ["x1000c0s0b0n0"] });
    expect(csv.problems).toEqual([
      expect.objectContaining({
        path: "nodes.csv:3",
        id: "x1000c0s0b0n1",
        field: "interfaces[0].macAddress",
      }),
    ]);

    const yaml = importDriver(
      "nodes:\n  - name: x1000c0s0b0n0\n    bmc_mac: 02:00:00:00:00:01\n    bmc_ip: 10.1.0.1\n",
      undefined,
      "nodes.yaml",
    );
    expect(yaml.components.map((c) => c.id)).toEqual(["x1000c0s0b0", "x1000c0s0b0n0"]);
    expect(yaml.problems).toEqual([]);

    expect(importDriver("just text", "yaml", "x.yaml")).toEqual({
      components: [],
      problems: [{ path: "x.yaml", message: expect.stringMatching(/expected \{components/) }],
      groups: {},
    });
  });
});
