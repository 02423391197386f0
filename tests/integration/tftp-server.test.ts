/**
 * The edge's TFTP server (edge-node/tftp/) over real UDP sockets on
 * loopback, driven by a scripted client that can do what real clients only
 * do on a bad network: lose ACKs, repeat them, acknowledge half a window,
 * come from a stranger's port. Also `/boot/v1/ipxe/{file}` on the same
 * directory. Real TFTP clients (atftp, tftp-hpa) against the real edge
 * process are in tests/e2e/edge-tftp.test.ts.
 */
import { randomBytes } from "node:crypto";
import { createSocket, type RemoteInfo, type Socket } from "node:dgram";
import { lchownSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { isIPv6 } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IpxeDir } from "../../edge-node/tftp/ipxe-dir";
import { registerIpxeFiles } from "../../edge-node/tftp/ipxe-route";
import { ackPacket, decodePacket, errorPacket, type Packet, TFTP_ERROR } from "../../edge-node/tftp/packet";
import { startTftpServer, type TftpServer } from "../../edge-node/tftp/server";
import type { AppEnv } from "../../functions/env";
import { createBaseApp } from "../../shared/http/app";
import { createLogger } from "../../shared/log";
import { httpMetrics, Registry } from "../../shared/metrics";

const log = createLogger({ level: "error" });

/** A request as a client sends it. */
function request(op: 1 | 2, file: string, mode = "octet", options: Record<string, string> = {}): Buffer {
  const text = [file, mode, ...Object.entries(options).flat()].map((s) => `${s}\0`).join("");
  return Buffer.concat([Buffer.from([0, op]), Buffer.from(text, "latin1")]);
}

interface Received {
  p: Packet;
  from: RemoteInfo;
}

/** One client UDP socket and what arrives on it, in order. */
class Client {
  private readonly queue: Received[] = [];
  private wake: (() => void) | undefined;
  private constructor(
    readonly socket: Socket,
    /** The server's loopback address, of the socket's family. */
    private readonly server: string,
  ) {
    socket.on("message", (msg, from) => {
      const p = decodePacket(msg);
      if (p) this.queue.push({ p, from });
      this.wake?.();
    });
  }

  static open(address = "127.0.0.1"): Promise<Client> {
    return new Promise((resolve) => {
      const s = createSocket(isIPv6(address) ? "udp6" : "udp4");
      s.bind({ address, port: 0 }, () => resolve(new Client(s, isIPv6(address) ? "::1" : "127.0.0.1")));
    });
  }

  send(buf: Buffer, port: number): void {
    this.socket.send(buf, port, this.server);
  }

  /** The next packet, or undefined after `ms` of silence. */
  async next(ms = 3000): Promise<Received | undefined> {
    const deadline = Date.now() + ms;
    while (!this.queue.length) {
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.wake = () => {
          clearTimeout(t);
          r();
        };
      });
    }
    return this.queue.shift();
  }

  async expect(op: Packet["op"], ms?: number): Promise<Received> {
    const r = await this.next(ms);
    expect(r?.p.op, JSON.stringify(r?.p)).toBe(op);
    return r!;
  }

  close(): void {
    this.socket.close();
  }
}

const data = (r: Received) => r.p as Extract<Packet, { op: "data" }>;
const error = (r: Received) => r.p as Extract<Packet, { op: "error" }>;

let dir: string;
let outside: string;
const small = randomBytes(1300);
/** More than 65535 blocks of 8 bytes: the block number wraps. */
const big = randomBytes(8 * 70_000 + 3);
const asRoot = process.getuid?.() === 0;
const servers: TftpServer[] = [];
const clients: Client[] = [];

async function server(
  opts: { host?: string; maxPerClient?: number; maxTransfers?: number; maxRetries?: number } = {},
) {
  const s = await startTftpServer({
    dir: await IpxeDir.open(dir, "CHAMICORE_EDGE_IPXE_DIR"),
    host: "127.0.0.1",
    port: 0,
    logger: log,
    ...opts,
  });
  servers.push(s);
  return s;
}

async function client(address?: string) {
  const c = await Client.open(address);
  clients.push(c);
  return c;
}

/** Reads `file` whole, acknowledging the last block of every window; returns the bytes and the wire block numbers seen. */
async function fetchAll(s: TftpServer, file: string, options: Record<string, string>, from?: string) {
  const c = await client(from);
  c.send(request(1, file, "octet", options), s.port);
  const oack = await c.expect("oack");
  const blksize = Number(options.blksize ?? 512);
  const window = Number(options.windowsize ?? 1);
  c.send(ackPacket(0), oack.from.port);
  const chunks: Uint8Array[] = [];
  const wire: number[] = [];
  for (let n = 1; ; n++) {
    const d = data(await c.expect("data"));
    wire.push(d.block);
    expect(d.block).toBe(n & 0xffff);
    chunks.push(Buffer.from(d.data));
    const last = d.data.length < blksize;
    if (last || n % window === 0) c.send(ackPacket(d.block), oack.from.port);
    if (last) break;
  }
  return { bytes: Buffer.concat(chunks), wire, oack: (oack.p as Extract<Packet, { op: "oack" }>).options };
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), "chamicore-tftp-"));
  outside = mkdtempSync(join(tmpdir(), "chamicore-tftp-outside-"));
  writeFileSync(join(dir, "small.bin"), small);
  writeFileSync(join(dir, "big.bin"), big);
  writeFileSync(join(dir, "empty.bin"), "");
  mkdirSync(join(dir, "sub"));
  writeFileSync(join(dir, "sub/inner.bin"), small);
  writeFileSync(join(outside, "secret"), "not for booting nodes");
  symlinkSync("small.bin", join(dir, "inside-link"));
  symlinkSync(join(outside, "secret"), join(dir, "user-link"));
  // A link into the rest of the system made by anyone but root is refused; root's (Debian's
  // /usr/lib/ipxe/ipxe.efi → /boot/ipxe.efi) is followed.
  if (asRoot) {
    lchownSync(join(dir, "user-link"), 65534, 65534);
    symlinkSync(join(outside, "secret"), join(dir, "root-link"));
  }
});

afterAll(async () => {
  for (const c of clients) c.close();
  for (const s of servers) await s.close();
  rmSync(dir, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

describe("TFTP reads", () => {
  it("serves a file in RFC 1350 lock-step when no option is asked: no OACK, 512-byte blocks", async () => {
    const s = await server();
    const c = await client();
    c.send(request(1, "small.bin"), s.port);
    const first = await c.expect("data");
    expect(first.from.port, "a new transfer ID").not.toBe(s.port);
    expect(data(first).block).toBe(1);
    expect(data(first).data.length).toBe(512);
    const got = [Buffer.from(data(first).data)];
    c.send(ackPacket(1), first.from.port);
    for (const n of [2, 3]) {
      const d = data(await c.expect("data"));
      expect(d.block).toBe(n);
      got.push(Buffer.from(d.data));
      c.send(ackPacket(n), first.from.port);
    }
    expect(Buffer.concat(got)).toEqual(small);
    await expect.poll(() => s.active()).toBe(0);
  });

  it("negotiates options in an OACK and sends a file over 65535 blocks, numbers wrapping to 0, byte-exact", async () => {
    const s = await server();
    const got = await fetchAll(s, "big.bin", { blksize: "8", tsize: "0", windowsize: "64" });
    expect(got.oack).toEqual(
      new Map([
        ["blksize", "8"],
        ["tsize", String(big.length)],
        ["windowsize", "64"],
      ]),
    );
    expect(got.bytes.equals(big)).toBe(true);
    expect(got.wire.length).toBe(70_001);
    expect(got.wire[65534]).toBe(65535);
    expect(got.wire[65535]).toBe(0);
    expect(got.wire.at(-1)).toBe(70_001 - 65_536);
  });

  it("ends a file that fills its last block with an empty block, and sends an empty file as one", async () => {
    const s = await server();
    expect((await fetchAll(s, "sub/inner.bin", { blksize: "650" })).bytes).toEqual(small);
    expect((await fetchAll(s, "empty.bin", { tsize: "0" })).bytes.length).toBe(0);
  });

  it("runs transfers side by side without mixing them up", async () => {
    const s = await server();
    const got = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        fetchAll(s, "big.bin", { blksize: "1468", windowsize: "16" }, `127.0.1.${i + 1}`),
      ),
    );
    for (const g of got) expect(g.bytes.equals(big)).toBe(true);
    await expect.poll(() => s.active()).toBe(0);
  });

  it("ignores duplicate ACKs instead of answering each (no Sorcerer's Apprentice)", async () => {
    const s = await server();
    const c = await client();
    c.send(request(1, "small.bin"), s.port);
    const first = await c.expect("data");
    const port = first.from.port;
    c.send(ackPacket(1), port);
    expect(data(await c.expect("data")).block).toBe(2);
    // ACK 1 again, late (as from a client that timed out waiting for block 2): within the
    // 1 s timeout nothing else comes, where answering it would send block 2 twice.
    c.send(ackPacket(1), port);
    c.send(ackPacket(1), port);
    expect(await c.next(500)).toBeUndefined();
    c.send(ackPacket(2), port);
    expect(data(await c.expect("data")).block).toBe(3);
    c.send(ackPacket(3), port);
  });

  it("sends again after the timeout, a bounded number of times, then gives up", async () => {
    const s = await server({ maxRetries: 2 });
    const c = await client();
    c.send(request(1, "small.bin", "octet", { timeout: "1" }), s.port);
    const oack = await c.expect("oack");
    c.send(ackPacket(0), oack.from.port);
    const t0 = Date.now();
    for (let i = 0; i < 3; i++) expect(data(await c.expect("data", 2500)).block).toBe(1);
    expect(Date.now() - t0).toBeGreaterThanOrEqual(1900);
    expect(await c.next(1500)).toBeUndefined();
    expect(s.active()).toBe(0);
  });

  it("resends a window from the block after the one a client acknowledged (RFC 7440)", async () => {
    const s = await server();
    const c = await client();
    c.send(request(1, "big.bin", "octet", { windowsize: "4" }), s.port);
    const oack = await c.expect("oack");
    c.send(ackPacket(0), oack.from.port);
    const first = [];
    for (let i = 0; i < 4; i++) first.push(data(await c.expect("data")).block);
    expect(first).toEqual([1, 2, 3, 4]);
    // Blocks 3 and 4 "lost": the client acknowledges 2 and gets 3 to 6.
    c.send(ackPacket(2), oack.from.port);
    const next = [];
    for (let i = 0; i < 4; i++) next.push(data(await c.expect("data")).block);
    expect(next).toEqual([3, 4, 5, 6]);
    c.send(errorPacket(0, "enough"), oack.from.port);
    await expect.poll(() => s.active()).toBe(0);
  });

  it("answers a stranger on a transfer's port with ERROR 5 and carries on", async () => {
    const s = await server();
    const c = await client();
    const stranger = await client();
    c.send(request(1, "small.bin"), s.port);
    const first = await c.expect("data");
    stranger.send(ackPacket(1), first.from.port);
    const e = error(await stranger.expect("error"));
    expect(e.code).toBe(TFTP_ERROR.UNKNOWN_TID);
    c.send(ackPacket(1), first.from.port);
    expect(data(await c.expect("data")).block).toBe(2);
    c.send(errorPacket(0, "enough"), first.from.port);
  });

  it("ends a transfer whose client refuses the OACK", async () => {
    const s = await server();
    const c = await client();
    c.send(request(1, "small.bin", "octet", { blksize: "1468" }), s.port);
    const oack = await c.expect("oack");
    c.send(errorPacket(TFTP_ERROR.OPTION_REFUSED, "no"), oack.from.port);
    await expect.poll(() => s.active()).toBe(0);
    expect(await c.next(300)).toBeUndefined();
  });

  it("listens on IPv6 as well", async () => {
    const s = await server({ host: "::1" });
    const got = await fetchAll(s, "sub/inner.bin", { blksize: "1468", tsize: "0" }, "::1");
    expect(got.bytes).toEqual(small);
  });

  it("tells running clients when it stops", async () => {
    const s = await startTftpServer({
      dir: await IpxeDir.open(dir, "X"),
      host: "127.0.0.1",
      port: 0,
      logger: log,
    });
    const c = await client();
    c.send(request(1, "small.bin"), s.port);
    await c.expect("data");
    await s.close();
    const e = error(await c.expect("error"));
    expect(e.message).toContain("stopping");
    expect(s.active()).toBe(0);
  });
});

describe("TFTP refusals", () => {
  const refused = async (s: TftpServer, packet: Buffer, code: number) => {
    const c = await client();
    c.send(packet, s.port);
    const r = await c.expect("error");
    expect(r.from.port, "refused from the listening port").toBe(s.port);
    expect(error(r).code, JSON.stringify(error(r))).toBe(code);
    return error(r).message;
  };

  it("refuses writes, other modes, names leaving the directory, missing files and garbage", async () => {
    const s = await server();
    const { ACCESS_VIOLATION, FILE_NOT_FOUND, ILLEGAL_OPERATION } = TFTP_ERROR;
    expect(await refused(s, request(2, "small.bin"), ACCESS_VIOLATION)).toContain("read-only");
    expect(await refused(s, request(1, "small.bin", "netascii"), ILLEGAL_OPERATION)).toContain("octet");
    expect(await refused(s, request(1, "small.bin", "mail"), ILLEGAL_OPERATION)).toContain("octet");
    for (const name of [
      "../../etc/passwd",
      "/etc/passwd",
      "sub/../../etc/passwd",
      "sub/..",
      "./small.bin",
      "sub//inner.bin",
      "..\\small.bin",
      "user-link",
    ])
      expect(await refused(s, request(1, name), ACCESS_VIOLATION), name).toBe("access violation");
    for (const name of ["missing.efi", "sub", "sub/missing", "small.bin/x"])
      expect(await refused(s, request(1, name), FILE_NOT_FOUND), name).toBe("file not found");
    await refused(s, Buffer.from([0, 1, 0x61]), ILLEGAL_OPERATION);
    expect(s.active()).toBe(0);
  });

  it("will not start on a directory that is missing or not one, naming the variable", async () => {
    await expect(IpxeDir.open(join(dir, "missing"), "CHAMICORE_EDGE_IPXE_DIR")).rejects.toThrow(
      /^CHAMICORE_EDGE_IPXE_DIR=.*missing: ENOENT/,
    );
    await expect(IpxeDir.open(join(dir, "small.bin"), "CHAMICORE_EDGE_IPXE_DIR")).rejects.toThrow(
      /small.bin: not a directory/,
    );
  });

  it("follows links that stay inside, and root's links that leave it", async () => {
    const s = await server();
    expect((await fetchAll(s, "inside-link", { tsize: "0" })).bytes).toEqual(small);
    if (asRoot)
      expect((await fetchAll(s, "root-link", { tsize: "0" })).bytes.toString()).toBe("not for booting nodes");
  });

  it("bounds transfers per client address and in total; a repeated request is not a second transfer", async () => {
    const s = await server({ maxPerClient: 1, maxTransfers: 2 });
    const a1 = await client();
    a1.send(request(1, "small.bin"), s.port);
    const running = await a1.expect("data");
    // The same request again from the same port: a retransmission, ignored.
    a1.send(request(1, "small.bin"), s.port);
    expect(await a1.next(300)).toBeUndefined();
    expect(s.active()).toBe(1);
    const a2 = await client();
    expect(await refused(s, request(1, "small.bin"), TFTP_ERROR.UNDEFINED)).toContain("too many transfers");
    const b = await client("127.0.0.2");
    b.send(request(1, "small.bin"), s.port);
    const other = await b.expect("data");
    const c = await client("127.0.0.3");
    c.send(request(1, "small.bin"), s.port);
    expect(error(await c.expect("error")).message).toContain("busy");
    // Once the first transfer ends, its client may start another.
    a1.send(errorPacket(0, "done"), running.from.port);
    b.send(errorPacket(0, "done"), other.from.port);
    await expect.poll(() => s.active()).toBe(0);
    a2.send(request(1, "small.bin"), s.port);
    await a2.expect("data");
  });
});

describe("GET /boot/v1/ipxe/{file}", () => {
  const app = (withDir: boolean) =>
    (async () => {
      const a = createBaseApp<AppEnv>({
        logger: log,
        metrics: httpMetrics(new Registry()),
      }) as OpenAPIHono<AppEnv>;
      registerIpxeFiles(a, withDir ? await IpxeDir.open(dir, "X") : undefined, "node");
      return a;
    })();

  it("streams the file with its length and ETag; HEAD and a matching If-None-Match send no body", async () => {
    const a = await app(true);
    const r = await a.request("/boot/v1/ipxe/big.bin");
    expect(r.status).toBe(200);
    expect(r.headers.get("content-length")).toBe(String(big.length));
    expect(r.headers.get("content-type")).toBe("application/octet-stream");
    expect(Buffer.from(await r.arrayBuffer()).equals(big)).toBe(true);
    const etag = r.headers.get("etag")!;
    expect(etag).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/);
    const head = await a.request("/boot/v1/ipxe/sub/inner.bin", { method: "HEAD" });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(small.length));
    expect((await head.arrayBuffer()).byteLength).toBe(0);
    const again = await a.request("/boot/v1/ipxe/big.bin", { headers: { "If-None-Match": etag } });
    expect(again.status).toBe(304);
  });

  it("answers 404 problem+json for a missing file, a name leaving the directory, or no directory", async () => {
    const a = await app(true);
    for (const path of ["missing.efi", "..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd", "user-link", "sub"]) {
      const r = await a.request(`/boot/v1/ipxe/${path}`);
      expect(r.status, path).toBe(404);
      expect(r.headers.get("content-type")).toContain("application/problem+json");
      expect(await r.text()).not.toContain("root:");
    }
    const none = await (await app(false)).request("/boot/v1/ipxe/undionly.kpxe");
    expect(none.status).toBe(404);
    expect(((await none.json()) as { detail: string }).detail).toContain("CHAMICORE_EDGE_IPXE_DIR");
  });
});
