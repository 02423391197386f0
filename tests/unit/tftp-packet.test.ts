/**
 * The TFTP packet codec and option negotiation (edge-node/tftp/packet.ts,
 * options.ts), byte for byte against the layouts of RFC 1350, 2347, 2348,
 * 2349 and 7440. The server itself, over real sockets, is in
 * tests/integration/tftp-server.test.ts.
 */
import { describe, expect, it } from "vitest";
import {
  DEFAULT_BLKSIZE,
  MAX_BLKSIZE,
  MAX_WINDOW_BYTES,
  MAX_WINDOWSIZE,
  negotiateOptions,
} from "../../edge-node/tftp/options";
import {
  ackPacket,
  dataPacket,
  decodePacket,
  errorPacket,
  MAX_REQUEST_BYTES,
  oackPacket,
  TFTP_ERROR,
} from "../../edge-node/tftp/packet";

const bytes = (...parts: (number[] | string)[]) =>
  Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "latin1") : Buffer.from(p))));

describe("decodePacket", () => {
  it("reads a read request with its mode and options, names lower-cased, the first of a repeat kept", () => {
    const p = decodePacket(
      bytes([0, 1], "pxe/undionly.kpxe\0OCTET\0BLKSIZE\x001468\0tsize\x000\0blksize\x00512\0"),
    );
    expect(p).toEqual({
      op: "rrq",
      file: "pxe/undionly.kpxe",
      mode: "octet",
      options: new Map([
        ["blksize", "1468"],
        ["tsize", "0"],
      ]),
    });
  });

  it("reads a write request as such (the server refuses it)", () => {
    expect(decodePacket(bytes([0, 2], "f\0octet\0"))).toMatchObject({ op: "wrq", file: "f" });
  });

  it("refuses requests that are not well formed", () => {
    for (const bad of [
      bytes([0, 1], "f\0octet"), // unterminated mode
      bytes([0, 1], "\0octet\0"), // no file name
      bytes([0, 1], "f\0"), // no mode
      bytes([0, 1], "f\0octet\0blksize\0"), // option without a value
      bytes([0, 1], "f\0octet\0\x00512\0"), // empty option name
      bytes([0, 1], `${"a".repeat(MAX_REQUEST_BYTES)}\0octet\0`), // over RFC 2347's 512 octets
      bytes([0, 9, 0, 0]), // unknown opcode
      bytes([0, 4, 0]), // short
      bytes([0, 4, 0, 1, 0]), // ACK with a tail
    ])
      expect(decodePacket(bad), JSON.stringify(bad.toString("latin1"))).toBeUndefined();
  });

  it("reads ACK, DATA, ERROR (with or without its NUL) and OACK", () => {
    expect(decodePacket(bytes([0, 4, 0xff, 0xfe]))).toEqual({ op: "ack", block: 65534 });
    const data = decodePacket(bytes([0, 3, 0, 7], "abc"));
    expect(data).toMatchObject({ op: "data", block: 7 });
    expect(Buffer.from((data as { data: Uint8Array }).data).toString()).toBe("abc");
    expect(decodePacket(bytes([0, 5, 0, 8], "no\0"))).toEqual({ op: "error", code: 8, message: "no" });
    expect(decodePacket(bytes([0, 5, 0, 0], "cut"))).toEqual({ op: "error", code: 0, message: "cut" });
    expect(decodePacket(bytes([0, 6], "blksize\x001468\0"))).toEqual({
      op: "oack",
      options: new Map([["blksize", "1468"]]),
    });
  });
});

describe("encoding", () => {
  it("writes DATA and ACK headers with the block number modulo 65536", () => {
    const d = dataPacket(65536 + 3, 2);
    expect([...d.subarray(0, 4)]).toEqual([0, 3, 0, 3]);
    expect(d.length).toBe(6);
    expect([...dataPacket(65535, 0)]).toEqual([0, 3, 0xff, 0xff]);
    expect([...dataPacket(65536, 0)]).toEqual([0, 3, 0, 0]);
    expect([...ackPacket(258)]).toEqual([0, 4, 1, 2]);
  });

  it("writes ERROR with its code and a NUL-terminated message, and OACK as name/value pairs", () => {
    expect(errorPacket(TFTP_ERROR.ACCESS_VIOLATION, "access violation")).toEqual(
      bytes([0, 5, 0, 2], "access violation\0"),
    );
    expect(
      oackPacket([
        ["tsize", "74213"],
        ["blksize", "1468"],
      ]),
    ).toEqual(bytes([0, 6], "tsize\x0074213\0blksize\x001468\0"));
    expect(decodePacket(errorPacket(1, "x".repeat(1000)))).toMatchObject({
      code: 1,
      message: "x".repeat(200),
    });
  });
});

describe("negotiateOptions", () => {
  const ask = (o: Record<string, string>, size = 1000) => negotiateOptions(new Map(Object.entries(o)), size);

  it("grants nothing when nothing is asked: RFC 1350's 512-byte lock-step, no OACK", () => {
    expect(ask({})).toEqual({ blksize: DEFAULT_BLKSIZE, windowsize: 1, timeoutMs: 1000, reply: [] });
  });

  it("grants blksize, tsize (the file's size), timeout and windowsize, in the order asked", () => {
    expect(ask({ windowsize: "8", tsize: "0", blksize: "1468", timeout: "3" }, 74213)).toEqual({
      blksize: 1468,
      windowsize: 8,
      timeoutMs: 3000,
      reply: [
        ["windowsize", "8"],
        ["tsize", "74213"],
        ["blksize", "1468"],
        ["timeout", "3"],
      ],
    });
  });

  it("lowers blksize and windowsize to its bounds, and declines values out of range", () => {
    expect(ask({ blksize: "70000" }).blksize).toBe(MAX_BLKSIZE);
    expect(ask({ windowsize: "65535" }).windowsize).toBe(MAX_WINDOWSIZE);
    // A window is at most MAX_WINDOW_BYTES: big blocks get fewer of them.
    expect(ask({ blksize: "65464", windowsize: "16" }).windowsize).toBe(Math.floor(MAX_WINDOW_BYTES / 65464));
    const declined: Record<string, string>[] = [
      { blksize: "7" },
      { blksize: "big" },
      { timeout: "0" },
      { timeout: "256" },
      { windowsize: "0" },
      { windowsize: "65536" },
      { tsize: "x" },
      { multicast: "" },
    ];
    for (const o of declined) expect(ask(o).reply, JSON.stringify(o)).toEqual([]);
  });
});
