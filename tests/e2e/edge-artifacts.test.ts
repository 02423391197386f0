/**
 * The edge as the rack's boot server for artifacts, with real processes
 * (`chamicore serve` on Postgres, a real nats-server, a real edge): a kernel
 * uploaded to the control plane and an initrd registered by URL on a site
 * web server are cached by the edge and verified (the web server's first
 * answer is corrupted: refused and fetched again), served with ranges, and
 * named by the edge's boot scripts once cached. With the control plane, NATS
 * and the web server all stopped, the edge still serves the script, both
 * artifacts and cloud-init. An edge following the control plane on Workers
 * (workerd, with a local R2 bucket) caches what was uploaded there.
 */
import { createHash, randomBytes } from "node:crypto";
import { createServer, type Server } from "node:http";
import { beforeAll, describe, expect, it } from "vitest";
import {
  type ControlPlane,
  cleanupAfterAll,
  createEdgeAccount,
  edgeDataDir,
  edgeEnv,
  edgeReady,
  PUBLIC,
  startControlPlane,
  startEdge,
  uploadArtifact,
} from "../support/edge-site";
import { eventually, uniqueStream } from "../support/nats";
import { workerTarget } from "../support/targets";

const cleanup = cleanupAfterAll();
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const MAC = "02:20:00:00:00:01";

const kernel = randomBytes(2 * 1024 * 1024 + 3);
const initrd = randomBytes(5 * 1024 * 1024 + 11);
const kernelPath = `/boot/v1/artifacts/${sha(kernel)}/vmlinuz-edge`;
const initrdPath = `/boot/v1/artifacts/${sha(initrd)}/initrd-edge.img`;
/** Staged for the edge's site ahead of any boot parameters (label site=rack9), and one for another site. */
const staged = randomBytes(1024 * 1024 + 7);
const elsewhere = randomBytes(4096);
const stagedPath = `/boot/v1/artifacts/${sha(staged)}/image-next.img`;

let site: ControlPlane;
let edge: { url: string };
let origin: Server;
let originUrl: string;
/** Full answers the site's web server gave for the initrd; the first one was corrupted. */
let originAnswers = 0;

/** The site's web server: serves the initrd, flipping one byte in its first answer. */
async function startOrigin() {
  origin = createServer((req, res) => {
    if (req.url === "/images/next.img") return res.writeHead(200).end(staged);
    if (req.url === "/images/elsewhere.img") return res.writeHead(200).end(elsewhere);
    if (req.url !== "/images/initrd-edge.img") return res.writeHead(404).end();
    originAnswers++;
    const body = Buffer.from(initrd);
    if (originAnswers === 1) body[4242] = body[4242]! ^ 0xff;
    res
      .writeHead(200, { "Content-Length": body.length, "Content-Type": "application/octet-stream" })
      .end(body);
  });
  await new Promise<void>((r) => origin.listen(0, "127.0.0.1", r));
  originUrl = `http://127.0.0.1:${(origin.address() as { port: number }).port}`;
  cleanup.push(() => origin.close());
}

// biome-ignore lint/suspicious/noExplicitAny: /status is inspected freely.
const edgeStatus = async (): Promise<any> => (await fetch(`${edge.url}/status`)).json();
const script = async () => (await fetch(`${edge.url}/boot/v1/bootscript?mac=${MAC}`)).text();
const bytes = async (path: string, headers: Record<string, string> = {}) => {
  const res = await fetch(`${edge.url}${path}`, { headers });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
};

beforeAll(async () => {
  await startOrigin();
  site = await startControlPlane(cleanup, { database: "edgeartifacts", ...uniqueStream("edgeartifacts") });
  const api = site.api;
  await uploadArtifact(site, "vmlinuz-edge", "kernel", kernel);
  const reg = await api("POST", "/boot/v1/artifacts", {
    name: "initrd-edge.img",
    sha256: sha(initrd),
    size: initrd.length,
    kind: "initrd",
    url: `${originUrl}/images/initrd-edge.img`,
  });
  expect(reg.status, reg.text).toBe(201);
  await api("POST", "/hsm/v2/State/Components", {
    id: "x5000c0s0b0n0",
    role: "Compute",
    interfaces: [{ macAddress: MAC, ipAddresses: [{ ipAddress: "127.0.0.1" }] }],
  });
  const bp = await api("POST", "/boot/v1/bootparams", {
    role: "Compute",
    kernel: { artifact: "vmlinuz-edge" },
    initrd: { artifact: sha(initrd) },
    cmdline: "console=ttyS0",
  });
  expect(bp.status, bp.text).toBe(201);
  await api("POST", "/cloud-init/payloads", {
    role: "Compute",
    userData: "#cloud-config\npackages: [munge]\n",
  });

  for (const [name, body, label] of [
    ["image-next.img", staged, "rack9"],
    ["image-elsewhere.img", elsewhere, "rack8"],
  ] as const) {
    const r = await api("POST", "/boot/v1/artifacts", {
      name,
      sha256: sha(body),
      size: body.length,
      kind: "image",
      labels: { site: label },
      url: `${originUrl}/images/${name === "image-next.img" ? "next" : "elsewhere"}.img`,
    });
    expect(r.status, r.text).toBe(201);
  }

  const creds = await createEdgeAccount(api, "edge-artifacts");
  edge = await startEdge(
    cleanup,
    edgeEnv(site, creds, edgeDataDir(cleanup, "edgeartifacts"), {
      CHAMICORE_EDGE_SITE: "rack9",
      CHAMICORE_EDGE_SITE_ARTIFACTS_SECONDS: "1",
    }),
  );
  await edgeReady(edge as never);
}, 120_000);

describe("an edge caching boot artifacts", () => {
  it("verifies what it fetches, refusing a corrupted download, and then names its own copies", async () => {
    // The kernel and initrd its boot parameters name, and the image staged for its site (not the other site's).
    const both = await eventually(
      "three artifacts cached",
      edgeStatus,
      (s) => s.artifacts?.wantedCached === 3,
      60_000,
    );
    expect(both.artifacts.wanted).toBe(3);
    expect((await bytes(stagedPath)).body.equals(staged)).toBe(true);
    // The corrupted first answer was refused and the initrd fetched again.
    expect(both.artifacts.corrupt).toBeGreaterThanOrEqual(1);
    expect(originAnswers).toBeGreaterThanOrEqual(2);
    expect(both.artifacts.failed).toEqual([]);
    const s = await script();
    expect(s).toContain(`kernel --name kernel ${PUBLIC}${kernelPath} initrd=initrd console=ttyS0`);
    expect(s).toContain(`initrd --name initrd ${PUBLIC}${initrdPath} ||`);
    const metrics = await (await fetch(`${edge.url}/metrics`)).text();
    expect(metrics).toMatch(/chamicore_edge_artifact/);
  });

  it("serves them whole and by range, exactly", async () => {
    const whole = await bytes(initrdPath);
    expect(whole.status).toBe(200);
    expect(whole.headers.get("etag")).toBe(`"${sha(initrd)}"`);
    expect(whole.body.equals(initrd)).toBe(true);
    const part = await bytes(initrdPath, { Range: "bytes=4000000-4000999" });
    expect(part.status).toBe(206);
    expect(part.headers.get("content-range")).toBe(`bytes 4000000-4000999/${initrd.length}`);
    expect(part.body.equals(initrd.subarray(4000000, 4001000))).toBe(true);
    expect((await bytes(kernelPath)).body.equals(kernel)).toBe(true);
  });

  it("serves script, artifacts and cloud-init with the control plane, NATS and the web server down", async () => {
    site.control.child.kill("SIGTERM");
    await site.control.exited;
    await site.nats.stop();
    await new Promise<void>((r) => origin.close(() => r()));
    const s = await script();
    expect(s).toContain(`${PUBLIC}${kernelPath}`);
    expect(s).toContain(`${PUBLIC}${initrdPath}`);
    expect((await bytes(kernelPath)).body.equals(kernel)).toBe(true);
    expect(
      (await bytes(initrdPath, { Range: "bytes=-100" })).body.equals(initrd.subarray(initrd.length - 100)),
    ).toBe(true);
    const ud = await fetch(`${edge.url}/cloud-init/x5000c0s0b0n0/user-data`);
    expect(ud.status).toBe(200);
    expect(await ud.text()).toContain("munge");
  });
});

describe("an edge following the control plane on Workers", () => {
  it("caches and serves a kernel uploaded to the Worker's R2 bucket", async () => {
    const worker = await workerTarget();
    cleanup.push(() => worker.stop());
    const image = randomBytes(3 * 1024 * 1024 + 5);
    const path = `/boot/v1/artifacts/${sha(image)}/vmlinuz-r2`;
    const reg = await worker.call("POST", "/boot/v1/artifacts", {
      body: { name: "vmlinuz-r2", sha256: sha(image), size: image.length, kind: "kernel" },
    });
    expect(reg.status, reg.text).toBe(201);
    const up = await worker.fetch!("/boot/v1/artifacts/vmlinuz-r2/content", {
      method: "PUT",
      headers: { Authorization: `Bearer ${worker.adminToken}`, "Content-Type": "application/octet-stream" },
      body: image,
    });
    expect(up.status, await up.text()).toBe(200);
    await worker.call("POST", "/hsm/v2/State/Components", {
      body: { id: "x6000c0s0b0n0", role: "Compute", interfaces: [{ macAddress: "02:20:00:00:00:02" }] },
    });
    expect(
      (
        await worker.call("POST", "/boot/v1/bootparams", {
          body: { role: "Compute", kernel: { artifact: "vmlinuz-r2" } },
        })
      ).status,
    ).toBe(201);
    const creds = await createEdgeAccount(
      (method, p, body) => worker.call(method, p, { body }),
      "edge-on-workers",
    );
    // No NATS: the edge follows the Worker's change feed.
    const onWorkers = await startEdge(cleanup, {
      CHAMICORE_CONTROL_URL: worker.url!,
      CHAMICORE_EDGE_CLIENT_ID: creds.id,
      CHAMICORE_EDGE_CLIENT_SECRET: creds.secret,
      CHAMICORE_EDGE_DATA_DIR: edgeDataDir(cleanup, "edge-workers"),
      CHAMICORE_EDGE_PUBLIC_URL: PUBLIC,
      CHAMICORE_EDGE_POLL_SECONDS: "0.5",
    });
    await edgeReady(onWorkers);
    await eventually(
      "the kernel cached from R2",
      async () => (await fetch(`${onWorkers.url}/boot/v1/bootscript?mac=02:20:00:00:00:02`)).text(),
      (text) => text.includes(`kernel --name kernel ${PUBLIC}${path} `),
      60_000,
    );
    const served = await fetch(`${onWorkers.url}${path}`, { headers: { Range: "bytes=1048576-" } });
    expect(served.status).toBe(206);
    expect(Buffer.from(await served.arrayBuffer()).equals(image.subarray(1048576))).toBe(true);
  }, 180_000);
});
