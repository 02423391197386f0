/**
 * Who is calling: canonical addresses, CIDR matching, and X-Forwarded-For
 * believed only through trusted proxies (the right-most untrusted hop).
 */
import { describe, expect, it } from "vitest";
import { canonicalIp, clientAddress, inAnyCidr, parseCidr } from "../../shared/http/client-address";

describe("canonicalIp", () => {
  it.each([
    ["10.0.0.1", "10.0.0.1"],
    [" 192.168.1.254 ", "192.168.1.254"],
    ["::1", "::1"],
    ["::", "::"],
    ["2001:DB8:0:0:0:0:0:1", "2001:db8::1"],
    ["2001:0db8:0000:0000:0001:0000:0000:0001", "2001:db8::1:0:0:1"],
    ["2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"],
    ["fe80::", "fe80::"],
    ["::ffff:10.0.0.5", "10.0.0.5"],
    ["::FFFF:a00:5", "10.0.0.5"],
    // The deprecated IPv4-compatible form is not IPv4-mapped.
    ["::10.0.0.5", "::a00:5"],
    ["::a00:5", "::a00:5"],
  ])("%s → %s", (input, out) => {
    expect(canonicalIp(input)).toBe(out);
  });

  it.each([
    "",
    "10.0.0",
    "10.0.0.256",
    "010.0.0.1",
    "1:2:3:4:5:6:7:8:9",
    "1::2::3",
    "fe80::1%eth0",
    "12345::",
    "x.y.z.w",
    "10.0.0.1:80",
    "10.1",
    "0x0a.0.0.1",
    "::ffff:010.0.0.1",
  ])("refuses %j", (input) => {
    expect(canonicalIp(input)).toBeUndefined();
  });
});

describe("CIDRs", () => {
  it("parses prefixes and single addresses", () => {
    expect(parseCidr("10.0.0.0/8")?.prefix).toBe(8);
    expect(parseCidr("10.0.0.0/8")?.ip.toString()).toBe("10.0.0.0");
    expect(parseCidr("127.0.0.1")?.prefix).toBe(32);
    expect(parseCidr("::ffff:10.0.0.0/104")?.prefix).toBe(8);
    expect(parseCidr("fd00::/8")?.prefix).toBe(8);
    expect(parseCidr("10.0.0.0/33")).toBeUndefined();
    expect(parseCidr("10.0.0.0/8/1")).toBeUndefined();
  });

  it("matches by prefix, per family", () => {
    expect(inAnyCidr("10.200.3.4", ["10.0.0.0/8"])).toBe(true);
    expect(inAnyCidr("11.0.0.1", ["10.0.0.0/8"])).toBe(false);
    expect(inAnyCidr("172.16.5.1", ["172.16.0.0/12"])).toBe(true);
    expect(inAnyCidr("172.32.0.1", ["172.16.0.0/12"])).toBe(false);
    expect(inAnyCidr("fd00::17", ["fd00::/8"])).toBe(true);
    expect(inAnyCidr("fe00::17", ["fd00::/8"])).toBe(false);
    expect(inAnyCidr("::ffff:10.1.2.3", ["10.0.0.0/8"])).toBe(true);
    expect(inAnyCidr("10.1.2.3", ["::/0"])).toBe(false);
    expect(inAnyCidr("10.1.2.3", ["0.0.0.0/0"])).toBe(true);
    expect(inAnyCidr("10.1.2.3", ["not-a-cidr"])).toBe(false);
  });
});

describe("clientAddress", () => {
  const trusted = ["127.0.0.1/32", "10.0.0.0/24"];

  it("is the peer when the peer is not a trusted proxy, whatever the header says", () => {
    expect(clientAddress("192.168.7.7", "10.9.9.9", trusted)).toBe("192.168.7.7");
    expect(clientAddress("192.168.7.7", undefined, trusted)).toBe("192.168.7.7");
    expect(clientAddress("127.0.0.1", "10.9.9.9", [])).toBe("127.0.0.1");
  });

  it("is the right-most hop that is not a trusted proxy", () => {
    expect(clientAddress("127.0.0.1", "10.9.9.9", trusted)).toBe("10.9.9.9");
    // The left-most hop is whatever the client wrote: only the chain of trusted proxies vouches.
    expect(clientAddress("127.0.0.1", "6.6.6.6, 10.9.9.9, 10.0.0.7", trusted)).toBe("10.9.9.9");
    expect(clientAddress("127.0.0.1", "10.0.0.3,10.0.0.7", trusted)).toBe("10.0.0.3");
  });

  it("canonicalises what it returns, and reads hops with ports or brackets", () => {
    expect(clientAddress("::ffff:127.0.0.1", "10.9.9.9:4711", trusted)).toBe("10.9.9.9");
    expect(clientAddress("127.0.0.1", "[2001:DB8::0:1]:80", trusted)).toBe("2001:db8::1");
    expect(clientAddress("::ffff:192.168.1.1", undefined, trusted)).toBe("192.168.1.1");
  });

  it("is unknown when the peer is unknown or a hop is malformed", () => {
    expect(clientAddress(undefined, "10.9.9.9", trusted)).toBeUndefined();
    expect(clientAddress("127.0.0.1", "10.9.9.9, garbage", trusted)).toBeUndefined();
    expect(clientAddress("not-an-ip", undefined, trusted)).toBeUndefined();
  });
});
