/**
 * The edge's hot routes (edge-node/hot-path.ts) against the normal stack of
 * the same edge app over the same replica: every request a booting node or
 * a curious caller can make gets the same status, headers (all of them,
 * request id aside unless the caller gave one) and body, whichever answers;
 * the hot path really answers the ordinary ones and leaves the unusual ones
 * (errors, 304s, repeated or encoded parameters, HEAD) to the normal stack;
 * and /metrics counts the same requests and answers either way. The normal
 * stack answers as the control plane does (replica-parity.test.ts).
 */
import { mkdtempSync, rmSync } from "node:fs";
import type { Server } from "node:http";
import { type AddressInfo, connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createAdaptorServer } from "@hono/node-server";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createEdgeApp } from "../../edge-node/app";
import { createHotPath } from "../../edge-node/hot-path";
import { openBetterSqlite } from "../../edge-node/node/sqlite";
import { ProgressRecorder } from "../../edge-node/progress/recorder";
import { Replica } from "../../edge-node/replica";
import type { EdgeSync } from "../../edge-node/sync";
import type { ServingSettings } from "../../functions/env";
import type { Snapshot } from "../../functions/events/store";
import type { ProgressBatch } from "../../functions/progress/schemas";
import type { Resource } from "../../shared/envelope";
import { createLogger, silentLogger } from "../../shared/log";
import { Counter, httpMetrics, Registry } from "../../shared/metrics";

const T = "2026-01-01T00:00:00.000Z";
const env = (kind: string, id: string, spec: Record<string, unknown>): Resource<unknown> => ({
  kind,
  apiVersion: "v1",
  metadata: { id, etag: "e0", createdAt: T, updatedAt: T },
  spec,
});
const component = (id: string, nid: number | null, role: string | null, enabled = true) =>
  env("Component", id, { id, type: "Node", state: "Ready", role, nid, enabled });
const iface = (id: string, componentId: string, macAddress: string, ips: string[]) =>
  env("EthernetInterface", id, {
    id,
    componentId,
    macAddress,
    ipAddresses: ips.map((ipAddress) => ({ ipAddress, network: "mgmt" })),
    description: "",
  });
const params = (id: string, target: Record<string, unknown>, kernelUri: string, cmdline: string) =>
  env("BootParameters", id, {
    id,
    componentId: null,
    role: null,
    isDefault: false,
    ...target,
    kernelUri,
    initrdUri: "http://images.example/initrd.img",
    cmdline,
  });
const payload = (id: string, target: Record<string, unknown>, docs: Record<string, unknown>) =>
  env("CloudInitPayload", id, {
    id,
    componentId: null,
    group: null,
    role: null,
    userData: null,
    metaData: null,
    vendorData: null,
    bindToAddress: false,
    ...target,
    ...docs,
  });

const SNAPSHOT: Snapshot = {
  position: 5,
  components: [
    component("x0c0s0b0n0", 1, "Compute"),
    component("x0c0s0b0n1", 2, "Compute"),
    component("x0c0s1b0n0", 3, "Service"),
    component("x0c0s1b0n1", 3, null), // nid 3 twice
    component("x0c0s2b0n0", 4, "Compute", false),
    component("x0c0s3b0n0", null, null),
    component("x0c0s3b0n1", 9, "Storage"), // {role} in its params, no role params: the default
  ],
  interfaces: [
    iface("020000000001", "x0c0s0b0n0", "02:00:00:00:00:01", ["10.0.0.1", "fd00::1"]),
    iface("020000000002", "x0c0s0b0n1", "02:00:00:00:00:02", ["10.0.0.2"]),
    iface("020000000003", "x0c0s1b0n0", "02:00:00:00:00:03", ["10.0.0.3", "10.0.0.9"]),
    iface("020000000004", "x0c0s1b0n1", "02:00:00:00:00:04", ["10.0.0.9"]), // 10.0.0.9 twice
    iface("020000000005", "x0c0s2b0n0", "02:00:00:00:00:05", ["10.0.0.5"]),
    iface("020000000006", "x0c0s3b0n0", "02:00:00:00:00:06", []),
    iface("020000000007", "x0c0s3b0n1", "02:00:00:00:00:07", ["10.0.0.7"]),
  ],
  groups: [env("Group", "gpu", { name: "gpu", description: "", tags: [], members: ["x0c0s0b0n0"] })],
  partitions: [],
  bootparams: [
    params(
      "bp-n0",
      { componentId: "x0c0s0b0n0" },
      "http://images.example/n0/vmlinuz",
      "console=ttyS0 mac={mac}",
    ),
    params("bp-compute", { role: "Compute" }, "http://images.example/{role}/vmlinuz", "quiet # id={id}"),
    params("bp-service", { role: "Service" }, "http://images.example/s/vmlinuz", `say="a b" \${x} ;`),
    params("bp-default", { isDefault: true }, "http://images.example/d/vmlinuz", "role={role}"),
  ],
  payloads: [
    payload(
      "pl-compute",
      { role: "Compute" },
      {
        userData: "#cloud-config\npackages: [chrony]\n",
        metaData: { cluster: "c1" },
        vendorData: "#cloud-config\ntimezone: UTC\n",
      },
    ),
    payload("pl-gpu", { group: "gpu" }, { userData: "#cloud-config\npackages: [nvidia]\n" }),
    payload(
      "pl-n1",
      { componentId: "x0c0s0b0n1" },
      {
        userData: "#cloud-config\nwrite_files: [{path: /etc/t, content: secret}]\n",
        bindToAddress: true,
      },
    ),
    payload("pl-service", { role: "Service" }, { userData: "#!/bin/sh\necho service\n" }),
  ],
  revocations: [],
};

const PEER = "127.0.0.1";
const serving = (over: Partial<ServingSettings> = {}): ServingSettings => ({
  publicUrl: "http://boot.example:8080",
  unknownMac: "retry",
  trustedProxies: ["127.0.0.1/32"],
  peerAddress: () => PEER,
  ...over,
});

const MACS = ["01", "02", "03", "04", "05", "06", "07", "99"].map((b) => `02:00:00:00:00:${b}`);
const IDS = SNAPSHOT.components.map((c) => c.metadata.id);
const xff = (ip: string) => ({ "X-Forwarded-For": `${ip}, 127.0.0.1` });

type Req = [string, Record<string, string>, string?];
/** Requests that the hot path answers itself. */
function ordinary(): Req[] {
  const out: Req[] = [];
  for (const mac of MACS) {
    out.push([`/boot/v1/bootscript?mac=${mac}`, {}]);
    out.push([`/boot/v1/bootscript?mac=${mac.toUpperCase().replaceAll(":", "-")}&retry=3`, {}]);
    out.push([`/boot/v1/bootscript?mac=${mac.replaceAll(":", "")}&retry=10&other=1`, {}]);
  }
  for (const id of [...IDS, "x9c0s0b0n0"]) out.push([`/boot/v1/bootscript?name=${id}`, {}]);
  for (const nid of [1, 2, 3, 4, 9, 77]) out.push([`/boot/v1/bootscript?nid=${nid}&retry=1`, {}]);
  out.push(["/boot/v1/bootscript?mac=02:00:00:00:00:01", { "X-Request-Id": "given-id_1=" }]);
  for (const d of ["user-data", "meta-data", "vendor-data"]) {
    for (const id of ["x0c0s0b0n0", "x0c0s1b0n0", "x0c0s3b0n0"]) out.push([`/cloud-init/${id}/${d}`, {}]);
    out.push([`/cloud-init/x0c0s0b0n1/${d}`, xff("10.0.0.2")]);
    out.push([`/cloud-init/${d}?mac=02:00:00:00:00:01`, {}]);
    out.push([`/cloud-init/${d}?mac=02-00-00-00-00-03&x=y`, {}]);
    out.push([`/cloud-init/${d}`, xff("10.0.0.1")]);
    out.push([`/cloud-init/${d}`, xff("fd00:0::1")]);
  }
  return out;
}

/** Requests the hot path leaves to the normal stack. */
function unusual(): Req[] {
  return [
    ["/boot/v1/bootscript", {}],
    ["/boot/v1/bootscript?mac=zz", {}],
    ["/boot/v1/bootscript?mac=02:00:00:00:00:01&mac=02:00:00:00:00:02", {}],
    ["/boot/v1/bootscript?mac=02:00:00:00:00:01&name=x0c0s0b0n0", {}],
    ["/boot/v1/bootscript?mac=02%3A00%3A00%3A00%3A00%3A01", {}],
    ["/boot/v1/bootscript?name=bad%00", {}],
    ["/boot/v1/bootscript?nid=1&retry=x", {}],
    ["/boot/v1/bootscript?nid=1&retry=1&retry=2", {}],
    ["/boot/v1/bootscript/?mac=02:00:00:00:00:01", {}],
    ["/boot/v1/bootscript?mac=02:00:00:00:00:01", {}, "HEAD"],
    ["/cloud-init/x9c0s0b0n0/user-data", {}],
    ["/cloud-init/x0c0s0b0n1/user-data", {}], // bound to its addresses: 403
    ["/cloud-init/x0c0s0b0n1/user-data", xff("10.0.0.1")],
    ["/cloud-init/user-data", {}], // the peer itself holds no address
    ["/cloud-init/meta-data", xff("10.0.0.9")], // two nodes: 409
    ["/cloud-init/meta-data", xff("not-an-address")],
    ["/cloud-init/user-data?mac=02:00:00:00:00:99", {}],
    ["/cloud-init/user-data?mac=nope", {}],
    ["/cloud-init/user-data?mac=02:00:00:00:00:01&mac=02:00:00:00:00:02", {}],
    ["/cloud-init/bad..id!/user-data", {}],
    ["/cloud-init/x0c0s0b0n0/other-data", {}],
    ["/cloud-init/x0c0s0b0n0/user-data", { "If-None-Match": "*" }],
  ];
}

interface Seen {
  status: number;
  headers: Record<string, string>;
  body: string;
}
async function seen(res: Response, keepRequestId: boolean): Promise<Seen> {
  const headers: Record<string, string> = {};
  res.headers.forEach((v, k) => {
    // Content-Length: the server adds it to the normal stack's answers (compared on the wire below).
    if (k !== "date" && k !== "content-length" && (keepRequestId || k !== "x-request-id")) headers[k] = v;
  });
  let body = await res.text();
  if (headers["content-type"]?.startsWith("application/problem+json")) {
    const { requestId: _, ...rest } = JSON.parse(body);
    body = JSON.stringify(rest);
  }
  return { status: res.status, headers, body };
}

const sync = { ready: true, status: () => ({}) } as unknown as EdgeSync;

describe("the edge's hot routes", () => {
  let dir: string;
  let replica: Replica;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "chamicore-hot-path-"));
    replica = Replica.open(dir, { sqlite: openBetterSqlite });
    replica.applySnapshot(SNAPSHOT);
  });
  afterAll(() => {
    replica?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const apps = (s: ServingSettings) => {
    const made = (hotPath: boolean) => {
      const registry = new Registry();
      const recorded: ProgressBatch["events"] = [];
      const progress = new ProgressRecorder({
        edge: "e",
        logger: silentLogger,
        now: () => 0,
        send: async (b) => recorded.push(...b.events),
      });
      const app = createEdgeApp({
        replica,
        sync,
        logger: silentLogger,
        registry,
        serving: s,
        peerOf: () => PEER,
        hotPath,
        progress,
      });
      const flushed = async () => {
        await progress.flush();
        return recorded;
      };
      return { app, registry, recorded: flushed };
    };
    return { hot: made(true), normal: made(false) };
  };

  for (const [what, s] of [
    ["a public URL", serving()],
    [
      "the request's origin as base and 404 for unknown nodes",
      serving({ publicUrl: undefined, unknownMac: "404" }),
    ],
  ] as const)
    it(`answers as the normal stack, headers and all, with ${what}`, async () => {
      const { hot, normal } = apps(s);
      const direct = createHotPath({
        boot: replica.boot,
        cloudInit: replica.cloudInit,
        serving: s,
        logger: silentLogger,
        metrics: httpMetrics(new Registry()),
        answers: new Counter("answers", "test"),
        peerOf: () => PEER,
      });
      await direct.ready;
      let answered = 0;
      const all = [
        ...ordinary().map((r) => [r, false] as const),
        ...unusual().map((r) => [r, true] as const),
      ];
      for (const [[path, headers, method = "GET"], isUnusual] of all) {
        const keepId = "X-Request-Id" in headers;
        const init = { method, headers };
        const want = await seen(await normal.app.request(path, init), keepId);
        const got = await seen(await hot.app.request(path, init), keepId);
        expect(got, `${method} ${path} ${JSON.stringify(headers)}`).toEqual(want);
        // app.request() asks for http://localhost<path>: the same origin, for the base URL of that mode.
        const res = await direct(new Request(`http://localhost${path}`, init));
        // The hot path answers every ordinary request the normal stack answers 200, and nothing else.
        expect(res !== undefined, `hot answered ${method} ${path}`).toBe(!isUnusual && want.status === 200);
        if (res) {
          answered++;
          expect(await seen(res, keepId), `hot ${path}`).toEqual(want);
        }
      }
      expect(answered).toBeGreaterThan(s.unknownMac === "404" ? 30 : 60);

      const series = (text: string) =>
        text
          .split("\n")
          .filter((l) =>
            /^chamicore_(http_requests_total|edge_answers_total|http_request_duration_seconds_count)/.test(l),
          )
          .sort();
      const h = series(hot.registry.render());
      expect(h).toEqual(series(normal.registry.render()));
      expect(h.length).toBeGreaterThan(10);
      // The same boot progress (each node's last stage, its retry and address), whichever answered.
      const stages = await hot.recorded();
      expect(stages).toEqual(await normal.recorded());
      expect(stages.length).toBeGreaterThanOrEqual(5);
    });

  it("sends the same bytes on the wire through @hono/node-server", async () => {
    const { hot, normal } = apps(serving());
    const servers = [hot, normal].map(({ app }) => createAdaptorServer({ fetch: app.fetch }) as Server);
    try {
      const ports = await Promise.all(
        servers.map(
          (s) =>
            new Promise<number>((resolve) =>
              s.listen(0, "127.0.0.1", () => resolve((s.address() as AddressInfo).port)),
            ),
        ),
      );
      await new Promise((r) => setTimeout(r, 10)); // the hot path's headers are ready
      for (const path of [
        "/boot/v1/bootscript?mac=02:00:00:00:00:01",
        "/boot/v1/bootscript?nid=3",
        "/cloud-init/x0c0s0b0n0/user-data",
        "/cloud-init/meta-data?mac=02:00:00:00:00:02",
      ]) {
        // The same request id both times: then only the Date line may differ.
        const [a, b] = await Promise.all(ports.map((port) => rawGet(port, path, "fixed-id")));
        const undated = (x: string) => x.replace(/\r\nDate: [^\r]*/, "");
        expect(undated(a!), path).toBe(undated(b!));
        expect(a).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
      }
    } finally {
      for (const s of servers) s.close();
    }
  });

  it("writes the access log line only when debug is on, and the same line", async () => {
    const lines = (level: "debug" | "info", hotPath: boolean) => {
      const out: Record<string, unknown>[] = [];
      const app = createEdgeApp({
        replica,
        sync,
        logger: createLogger({ level, write: (l) => out.push(JSON.parse(l)) }),
        registry: new Registry(),
        serving: serving(),
        peerOf: () => PEER,
        hotPath,
      });
      return { app, out };
    };
    for (const level of ["debug", "info"] as const) {
      const hot = lines(level, true);
      const normal = lines(level, false);
      await new Promise((r) => setTimeout(r, 10)); // the hot path's headers are ready
      for (const x of [hot, normal]) {
        await x.app.request("/boot/v1/bootscript?mac=02:00:00:00:00:99", {
          headers: { "X-Request-Id": "r1" },
        });
        await x.app.request("/cloud-init/x0c0s0b0n0/meta-data", { headers: { "X-Request-Id": "r2" } });
      }
      const shape = (xs: Record<string, unknown>[]) => xs.map(({ time: _, ms: __, ...rest }) => rest);
      expect(shape(hot.out)).toEqual(shape(normal.out));
      // The unknown MAC is a warning either way; the access lines only at debug.
      expect(hot.out.map((l) => l.msg)).toEqual(
        level === "debug" ? ["node cannot boot", "request", "request"] : ["node cannot boot"],
      );
    }
  });
});

/** One GET on a fresh connection, the answer's bytes as they came. */
function rawGet(port: number, path: string, requestId: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, "127.0.0.1", () =>
      socket.write(
        `GET ${path} HTTP/1.1\r\nHost: edge.local\r\nX-Request-Id: ${requestId}\r\nConnection: close\r\n\r\n`,
      ),
    );
    const chunks: Buffer[] = [];
    socket.on("data", (c) => chunks.push(c));
    socket.on("end", () => resolve(Buffer.concat(chunks).toString("latin1")));
    socket.on("error", reject);
  });
}
