/**
 * The Kea sync's pure parts: which reservations the inventory asks for and
 * in which subnet, what is reported instead, the changes that bring Kea in
 * step, and the configuration edit that leaves other reservations alone.
 */
import { describe, expect, it } from "vitest";
import {
  type DhcpHost,
  diffReservations,
  hostnameFor,
  type KeaReservation,
  keyOf,
  planReservations,
} from "../../edge-node/kea/reservations";
import { applyChanges } from "../../edge-node/kea/strategy";

const SUBNETS = [
  { id: 1, subnet: "10.1.0.0/24" },
  { id: 2, subnet: "10.2.0.0/16" },
];

const host = (componentId: string, mac: string, ...addresses: string[]): DhcpHost => ({
  componentId,
  interfaceId: mac.replaceAll(":", ""),
  mac,
  addresses,
});

describe("planReservations", () => {
  it("places each IPv4 address in the subnet that contains it, marked as Chamicore's", () => {
    const { desired, problems } = planReservations(
      [
        host("x1000c0s0b0n0", "aa:00:00:00:00:01", "10.1.0.10", "fd00::10"),
        host("n2", "AA-00-00-00-00-02", "10.2.3.4"),
      ],
      SUBNETS,
    );
    expect(problems).toEqual([]);
    expect([...desired.keys()].sort()).toEqual([
      keyOf(1, "aa:00:00:00:00:01"),
      keyOf(2, "aa:00:00:00:00:02"),
    ]);
    expect(desired.get("1/aa:00:00:00:00:01")).toEqual({
      subnetId: 1,
      reservation: {
        "hw-address": "aa:00:00:00:00:01",
        "ip-address": "10.1.0.10",
        hostname: "x1000c0s0b0n0",
        "user-context": { chamicore: { component: "x1000c0s0b0n0", interface: "aa0000000001" } },
      },
    });
  });

  it("reports addresses outside every subnet and addresses claimed twice, keeping the lower interface id", () => {
    const { desired, problems } = planReservations(
      [
        host("late", "aa:00:00:00:00:09", "10.1.0.20"),
        host("early", "aa:00:00:00:00:01", "10.1.0.20"),
        host("away", "aa:00:00:00:00:05", "192.168.7.7"),
      ],
      SUBNETS,
    );
    expect([...desired.values()].map((p) => p.reservation["user-context"].chamicore.component)).toEqual([
      "early",
    ]);
    expect(problems.map((p) => [p.reason, p.componentId, p.address])).toEqual([
      ["outside-subnets", "away", "192.168.7.7"],
      ["duplicate-address", "late", "10.1.0.20"],
    ]);
    expect(problems[1]!.detail).toContain("early");
  });

  it("reports a subnet's network and broadcast addresses, which Kea would accept but no host can use", () => {
    const { desired, problems } = planReservations(
      [
        host("a", "aa:00:00:00:00:01", "10.1.0.0"),
        host("b", "aa:00:00:00:00:02", "10.1.0.255"),
        host("c", "aa:00:00:00:00:03", "10.2.255.255"),
        host("d", "aa:00:00:00:00:04", "10.2.1.0"),
      ],
      SUBNETS,
    );
    expect(problems.map((p) => [p.reason, p.detail])).toEqual([
      ["not-a-host-address", "10.1.0.0 is the network address of 10.1.0.0/24"],
      ["not-a-host-address", "10.1.0.255 is the broadcast address of 10.1.0.0/24"],
      ["not-a-host-address", "10.2.255.255 is the broadcast address of 10.2.0.0/16"],
    ]);
    // Inside a /16, x.y.1.0 is an ordinary host address.
    expect([...desired.values()].map((p) => p.reservation["ip-address"])).toEqual(["10.2.1.0"]);
  });

  it("reserves one address per MAC and subnet, and reports the second", () => {
    const { desired, problems } = planReservations(
      [host("n1", "aa:00:00:00:00:01", "10.1.0.5", "10.1.0.6", "10.2.0.6")],
      SUBNETS,
    );
    expect(desired.size).toBe(2);
    expect(problems.map((p) => [p.reason, p.address])).toEqual([["second-address-in-subnet", "10.1.0.6"]]);
  });
});

describe("hostnameFor", () => {
  it("uses the component id when it is a host name, lower-cased", () => {
    expect(hostnameFor("x1000c0s0b0n0")).toBe("x1000c0s0b0n0");
    expect(hostnameFor("Node-17.rack3")).toBe("node-17.rack3");
  });
  it("leaves the host name out when the id cannot be one", () => {
    expect(hostnameFor("node_17")).toBeUndefined();
    expect(hostnameFor("a..b")).toBeUndefined();
    expect(hostnameFor(`n${"x".repeat(70)}`)).toBeUndefined();
  });
});

describe("diffReservations", () => {
  const want = planReservations(
    [host("n1", "aa:00:00:00:00:01", "10.1.0.1"), host("n2", "aa:00:00:00:00:02", "10.1.0.2")],
    SUBNETS,
  ).desired;

  it("adds what is missing and nothing when Kea already agrees (ignoring Kea's default fields)", () => {
    expect(diffReservations(new Map(), want).map((c) => [c.key, !!c.put])).toEqual([
      ["1/aa:00:00:00:00:01", true],
      ["1/aa:00:00:00:00:02", true],
    ]);
    const inKea = new Map(
      [...want].map(([k, p]) => [
        k,
        {
          ...p,
          reservation: { ...p.reservation, "boot-file-name": "", "client-classes": [], "option-data": [] },
        },
      ]),
    );
    expect(diffReservations(inKea, want)).toEqual([]);
  });

  it("removes before it puts, changes what differs, and leaves held keys as Kea has them", () => {
    const stale = planReservations(
      [host("n1", "aa:00:00:00:00:01", "10.1.0.9"), host("gone", "aa:00:00:00:00:03", "10.1.0.3")],
      SUBNETS,
    ).desired;
    expect(diffReservations(stale, want).map((c) => [c.key, c.put?.["ip-address"] ?? "remove"])).toEqual([
      ["1/aa:00:00:00:00:03", "remove"],
      ["1/aa:00:00:00:00:01", "10.1.0.1"],
      ["1/aa:00:00:00:00:02", "10.1.0.2"],
    ]);
    const held = new Set(["1/aa:00:00:00:00:01", "1/aa:00:00:00:00:03"]);
    expect(diffReservations(stale, want, held).map((c) => c.key)).toEqual(["1/aa:00:00:00:00:02"]);
  });
});

describe("applyChanges", () => {
  const manual: KeaReservation = {
    "hw-address": "aa:00:00:00:00:01",
    "ip-address": "10.1.0.99",
  } as KeaReservation;
  const ours = (mac: string, ip: string): KeaReservation => ({
    "hw-address": mac,
    "ip-address": ip,
    "user-context": { chamicore: { component: "n", interface: "i" } },
  });
  const config = {
    "valid-lifetime": 4000,
    subnet4: [
      { id: 1, subnet: "10.1.0.0/24", reservations: [manual, ours("aa:00:00:00:00:02", "10.1.0.2")] },
      { id: 3, subnet: "10.3.0.0/24", reservations: [ours("aa:00:00:00:00:07", "10.3.0.7")] },
    ],
    "shared-networks": [{ name: "s", subnet4: [{ id: 2, subnet: "10.2.0.0/16" }] }],
  };

  it("changes only Chamicore's reservations, in the subnets named, and never the one it does not own", () => {
    const out = applyChanges(config, [
      // Same MAC as the manual reservation: never replaces it, sits beside it (Kea then judges).
      {
        key: "1/aa:00:00:00:00:01",
        subnetId: 1,
        mac: "aa:00:00:00:00:01",
        put: ours("aa:00:00:00:00:01", "10.1.0.1"),
      },
      { key: "1/aa:00:00:00:00:02", subnetId: 1, mac: "aa:00:00:00:00:02" },
      {
        key: "2/aa:00:00:00:00:05",
        subnetId: 2,
        mac: "aa:00:00:00:00:05",
        put: ours("aa:00:00:00:00:05", "10.2.0.5"),
      },
    ]);
    expect(out.subnet4![0]!.reservations).toEqual([manual, ours("aa:00:00:00:00:01", "10.1.0.1")]);
    expect(out.subnet4![1]).toBe(config.subnet4[1]);
    expect(out["shared-networks"]![0]!.subnet4![0]!.reservations).toEqual([
      ours("aa:00:00:00:00:05", "10.2.0.5"),
    ]);
    expect(out["valid-lifetime"]).toBe(4000);
    // The input is not modified.
    expect(config.subnet4[0]!.reservations).toHaveLength(2);
  });
});
