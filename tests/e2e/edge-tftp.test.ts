/**
 * The first stage of a network boot from the real edge process: Debian's
 * own TFTP clients (atftp, tftp-hpa) fetch the iPXE binaries of Debian's
 * `ipxe` package (/usr/lib/ipxe, the edge's default directory) byte-exact,
 * with blksize 1468 and with a window (RFC 7440), and are refused what lies
 * outside the directory; the same binaries come over HTTP from
 * `/boot/v1/ipxe/{file}`; SIGTERM stops TFTP with the rest. Runs against
 * `chamicore edge` on Node and, in the edge-exe project, the executable.
 *
 * The clients and the binaries are Debian packages (atftp, tftp-hpa, ipxe)
 * that CI installs (.ci/run): without them the file is skipped, except in
 * CI, where it fails.
 */
import { execFile } from "node:child_process";
import { createSocket } from "node:dgram";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import {
  type Cleanup,
  cleanupAfterAll,
  createEdgeAccount,
  edgeDataDir,
  edgeEnv,
  startControlPlane,
  startEdge,
} from "../support/edge-site";
import { uniqueStream } from "../support/nats";
import type { Proc } from "../support/process";

const IPXE = "/usr/lib/ipxe";
const NEEDED = ["/usr/bin/atftp", "/usr/bin/tftp", `${IPXE}/undionly.kpxe`, `${IPXE}/ipxe.efi`];
const missing = NEEDED.filter((f) => !existsSync(f));
if (missing.length && process.env.CI)
  throw new Error(`${missing.join(", ")} missing: CI installs atftp, tftp-hpa and ipxe (.ci/run)`);
const SKIP = missing.length
  ? `${missing.join(", ")} missing: apt-get install atftp tftp-hpa ipxe to run the TFTP end-to-end tests`
  : false;

const cleanup: Cleanup = cleanupAfterAll();
let edge: Proc & { url: string };
let tftpPort: number;
let out: string;

/** Runs a client; its exit code and everything it printed. */
function client(cmd: string, args: string[]): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    execFile(cmd, args, { timeout: 30_000 }, (err, stdout, stderr) =>
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, output: stdout + stderr }),
    );
  });
}

const atftp = (remote: string, local: string, options: string[] = [], trace = false) =>
  client("atftp", [
    ...(trace ? ["--trace"] : []),
    ...options.flatMap((o) => ["--option", o]),
    "-g",
    "-r",
    remote,
    "-l",
    local,
    "127.0.0.1",
    String(tftpPort),
  ]);

/** tftp-hpa in binary mode (its default is netascii). */
const tftpHpa = (remote: string, local: string, mode = "binary") =>
  client("tftp", ["-m", mode, "127.0.0.1", String(tftpPort), "-c", "get", remote, local]);

/** Whether anything comes back to `packet` sent to the TFTP port within `ms`. */
async function answered(packet: Buffer, ms: number): Promise<boolean> {
  const socket = createSocket("udp4");
  try {
    return await new Promise<boolean>((resolve) => {
      socket.once("message", () => resolve(true));
      socket.once("error", () => resolve(false));
      setTimeout(() => resolve(false), ms);
      socket.send(packet, tftpPort, "127.0.0.1");
    });
  } finally {
    socket.close();
  }
}

const same = (local: string, name: string) => readFileSync(local).equals(readFileSync(join(IPXE, name)));

describe.skipIf(SKIP)("the edge's TFTP and HTTP for the iPXE binaries", () => {
  beforeAll(async () => {
    const site = await startControlPlane(cleanup, { database: "edge_tftp", ...uniqueStream("edge_tftp") });
    const creds = await createEdgeAccount(site.api, "edge-tftp");
    // CHAMICORE_EDGE_IPXE_DIR unset: Debian's /usr/lib/ipxe is the default.
    edge = await startEdge(
      cleanup,
      edgeEnv(site, creds, edgeDataDir(cleanup, "edge-tftp"), {
        CHAMICORE_EDGE_TFTP_LISTEN: "127.0.0.1:0",
        CHAMICORE_LOG_LEVEL: "debug",
      }),
    );
    const line = edge
      .output()
      .split("\n")
      .find((l) => l.includes('"tftp listening"'));
    expect(line, edge.output()).toBeDefined();
    const logged = JSON.parse(line!);
    expect(logged).toMatchObject({ address: "127.0.0.1", dir: IPXE });
    tftpPort = logged.port;
    out = mkdtempSync(join(tmpdir(), "chamicore-tftp-client-"));
    cleanup.push(() => rmSync(out, { recursive: true, force: true }));
  });

  it("atftp fetches undionly.kpxe and ipxe.efi byte-exact with blksize 1468", async () => {
    for (const name of ["undionly.kpxe", "ipxe.efi"]) {
      const local = join(out, `blksize-${name}`);
      const r = await atftp(name, local, ["blksize 1468", "tsize 0"], true);
      expect(r.code, r.output).toBe(0);
      expect(r.output).toMatch(/received OACK <.*blksize: 1468/);
      expect(r.output).toMatch(/received OACK <.*tsize: \d+/);
      expect(same(local, name), name).toBe(true);
    }
  });

  it("atftp fetches them byte-exact in windows of 8 blocks, one ACK per window", async () => {
    for (const name of ["undionly.kpxe", "ipxe.efi"]) {
      const local = join(out, `window-${name}`);
      const r = await atftp(name, local, ["blksize 1468", "windowsize 8"], true);
      expect(r.code, r.output).toBe(0);
      expect(r.output).toMatch(/received OACK <.*windowsize: 8/);
      expect(same(local, name), name).toBe(true);
      const blocks = Math.floor(readFileSync(join(IPXE, name)).length / 1468) + 1;
      const acks = r.output.split("\n").filter((l) => l.startsWith("sent ACK")).length;
      // ACK 0 for the OACK, then one per window of 8.
      expect(acks, name).toBe(1 + Math.ceil(blocks / 8));
    }
  });

  it("tftp-hpa fetches them in RFC 1350's plain lock-step; netascii is refused", async () => {
    for (const name of ["undionly.kpxe", "ipxe.efi"]) {
      const local = join(out, `plain-${name}`);
      const r = await tftpHpa(name, local);
      expect(r.output, name).toBe("");
      expect(same(local, name), name).toBe(true);
    }
    const ascii = await tftpHpa("undionly.kpxe", join(out, "ascii"), "netascii");
    expect(ascii.output).toContain("Error code 4: mode netascii is not served");
  });

  it("refuses paths out of the directory, and writes", async () => {
    for (const name of ["../../etc/passwd", "/etc/passwd", "../../../../../../etc/shadow"]) {
      const a = await atftp(name, join(out, "a-refused"));
      expect(a.code, a.output).not.toBe(0);
      expect(a.output, name).toContain("access violation");
      const h = await tftpHpa(name, join(out, "h-refused"));
      expect(h.output, name).toContain("Error code 2: access violation");
      expect(readFileSync(join(out, "h-refused"), "utf8")).toBe("");
    }
    const missingFile = await tftpHpa("no-such.efi", join(out, "missing"));
    expect(missingFile.output).toContain("Error code 1: file not found");
    const put = await client("tftp", [
      "-m",
      "binary",
      "127.0.0.1",
      String(tftpPort),
      "-c",
      "put",
      "/etc/hostname",
      "x",
    ]);
    expect(put.output).toContain("Error code 2");
  });

  it("serves the same binaries at /boot/v1/ipxe/{file}, with length and ETag, and 404 outside", async () => {
    for (const name of ["undionly.kpxe", "ipxe.efi"]) {
      const r = await fetch(`${edge.url}/boot/v1/ipxe/${name}`);
      expect(r.status).toBe(200);
      const body = Buffer.from(await r.arrayBuffer());
      expect(body.equals(readFileSync(join(IPXE, name))), name).toBe(true);
      expect(r.headers.get("content-length")).toBe(String(body.length));
      expect(r.headers.get("etag")).toMatch(/^"/);
      const head = await fetch(`${edge.url}/boot/v1/ipxe/${name}`, { method: "HEAD" });
      expect(head.status).toBe(200);
      expect(head.headers.get("content-length")).toBe(String(body.length));
    }
    for (const path of ["no-such.efi", "..%2F..%2Fetc%2Fpasswd", "%2Fetc%2Fpasswd"]) {
      const r = await fetch(`${edge.url}/boot/v1/ipxe/${path}`);
      expect(r.status, path).toBe(404);
      expect(r.headers.get("content-type")).toContain("application/problem+json");
    }
  });

  it("counts transfers in /metrics and /status, and stops TFTP with the rest on SIGTERM", async () => {
    const { tftp } = (await (await fetch(`${edge.url}/status`)).json()) as {
      tftp: { listen: string; dir: string; active: number; ended: Record<string, number>; sentBytes: number };
    };
    expect(tftp.listen).toBe(`127.0.0.1:${tftpPort}`);
    expect(tftp.dir).toBe(IPXE);
    expect(tftp.ended.sent).toBeGreaterThanOrEqual(6);
    expect(tftp.sentBytes).toBeGreaterThan(readFileSync(`${IPXE}/ipxe.efi`).length);
    const metrics = await (await fetch(`${edge.url}/metrics`)).text();
    expect(metrics).toMatch(/chamicore_edge_tftp_transfers_total\{outcome="sent"\} \d+/);
    expect(metrics).toMatch(/chamicore_edge_tftp_requests_total\{outcome="access"\} \d+/);
    const rrq = Buffer.from("\0\x01undionly.kpxe\0octet\0", "latin1");
    // A transfer left running: the stop ends it.
    expect(await answered(rrq, 2000)).toBe(true);
    edge.child.kill("SIGTERM");
    expect(await edge.exited).toEqual({ code: 0, signal: null });
    expect(edge.output()).toContain('"stopped"');
    // Nothing answers on the port any more.
    expect(await answered(rrq, 1000)).toBe(false);
  });
});
