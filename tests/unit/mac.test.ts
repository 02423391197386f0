import { describe, expect, it } from "vitest";
import { nicMacProblem, normalizeMac } from "../../shared/mac";

describe("normalizeMac", () => {
  it.each([
    "AA:BB:CC:DD:EE:FF",
    "aa:bb:cc:dd:ee:ff",
    "aa-bb-cc-dd-ee-ff",
    "AA-BB-CC-DD-EE-FF",
    "aabbccddeeff",
    "AaBbCcDdEeFf",
    "  aa:bb:cc:dd:ee:ff  ",
    "\taabbccddeeff\n",
  ])("normalises %j to aa:bb:cc:dd:ee:ff", (input) => {
    expect(normalizeMac(input)).toBe("aa:bb:cc:dd:ee:ff");
  });

  it("keeps the octets in order", () => {
    expect(normalizeMac("00-1B-63-84-45-E6")).toBe("00:1b:63:84:45:e6");
  });

  it.each([
    ["mixed separators", "aa:bb-cc:dd-ee:ff"],
    ["five octets", "aa:bb:cc:dd:ee"],
    ["seven octets", "aa:bb:cc:dd:ee:ff:00"],
    ["non-hex digits", "gg:bb:cc:dd:ee:ff"],
    ["dot-separated octets", "aa.bb.cc.dd.ee.ff"],
    ["Cisco dotted form", "aabb.ccdd.eeff"],
    ["single-digit octets", "a:b:c:d:e:f"],
    ["eleven hex digits", "aabbccddeef"],
    ["a space inside", "aa:bb:cc dd:ee:ff"],
    ["a trailing separator", "aa:bb:cc:dd:ee:ff:"],
    ["empty", ""],
  ])("rejects %s", (_what, input) => {
    expect(normalizeMac(input)).toBeUndefined();
  });
});

describe("nicMacProblem", () => {
  it.each([
    ["00:00:00:00:00:00", /all-zero/],
    ["ff:ff:ff:ff:ff:ff", /broadcast/],
    ["01:00:5e:00:00:01", /multicast/],
    ["33:33:00:00:00:01", /multicast/],
    ["01:80:c2:00:00:00", /multicast/],
  ])("refuses %s as an interface's own address", (mac, reason) => {
    expect(nicMacProblem(mac)).toMatch(reason);
  });

  it.each(["a4:bf:01:38:ee:65", "02:00:00:00:00:01", "fe:ff:ff:ff:ff:ff", "00:00:00:00:00:01"])(
    "accepts the unicast %s",
    (mac) => {
      expect(nicMacProblem(mac)).toBeUndefined();
    },
  );
});
