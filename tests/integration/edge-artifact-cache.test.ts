/**
 * The edge's artifact cache (edge-node/artifacts/) against a real HTTP
 * origin on a loopback port, with real files: what is fetched is verified
 * before it is served, wrong bytes are refused and fetched again, a cut
 * download resumes with Range, the bandwidth cap and the disk budget hold,
 * files found at start are checked before they are served, and the edge's
 * content route answers ranges from the cached file. Also: the refs the
 * cache is fed come from the boot parameters of a real replica.
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { OpenAPIHono } from "@hono/zod-openapi";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createEdgeApp } from "../../edge-node/app";
import { ArtifactCache, type ArtifactCacheOptions } from "../../edge-node/artifacts/cache";
import { replicaBootParams } from "../../edge-node/artifacts/wanted";
import { openBetterSqlite } from "../../edge-node/node/sqlite";
import { Replica } from "../../edge-node/replica";
import type { EdgeSync } from "../../edge-node/sync";
import { registerArtifactContent } from "../../functions/artifacts";
import { artifactRefsOf } from "../../functions/artifacts/refs";
import { type ArtifactRef, artifactPath } from "../../functions/artifacts/schemas";
import type { AppEnv, ServingSettings } from "../../functions/env";
import type { Snapshot } from "../../functions/events/store";
import { silentLogger } from "../../shared/log";
import { Registry } from "../../shared/metrics";

const MiB = 1024 * 1024;

interface Blob_ {
  bytes: Buffer;
  ref: ArtifactRef;
}

/** What the origin does with the next answers for a file. */
interface Trouble {
  /** Full answers to send with one byte flipped. */
  corrupt?: number;
  /** Send this many bytes of the next answer, then cut the connection. */
  cutAt?: number;
}

/** A plain static server with single byte ranges, like nginx or S3, that can misbehave on demand. */
class Origin {
  readonly files = new Map<string, Buffer>();
  readonly trouble = new Map<string, Trouble>();
  readonly requests: { path: string; range: string | undefined }[] = [];
  private server!: Server;
  url = "";

  async start() {
    this.server = createServer((req, res) => {
      const path = req.url ?? "/";
      this.requests.push({ path, range: req.headers.range });
      const body = this.files.get(path);
      if (!body) {
        res.writeHead(404).end();
        return;
      }
      const t = this.trouble.get(path) ?? {};
      const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? "");
      const start = m ? Number(m[1]) : 0;
      if (start >= body.length && m) {
        res.writeHead(416, { "Content-Range": `bytes */${body.length}` }).end();
        return;
      }
      let out = body.subarray(start);
      if (t.corrupt && !m) {
        t.corrupt--;
        out = Buffer.from(out);
        out[out.length >> 1]! ^= 0xff;
      }
      res.writeHead(m ? 206 : 200, {
        "Content-Length": String(out.length),
        "Accept-Ranges": "bytes",
        ...(m ? { "Content-Range": `bytes ${start}-${body.length - 1}/${body.length}` } : {}),
      });
      if (t.cutAt !== undefined) {
        const cut = t.cutAt;
        t.cutAt = undefined;
        res.write(out.subarray(0, cut));
        // Long enough for the client to have taken every byte sent before the connection drops.
        setTimeout(() => res.destroy(), 300);
        return;
      }
      res.end(out);
    });
    await new Promise<void>((r) => this.server.listen(0, "127.0.0.1", r));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** A new artifact of `size` random bytes, served at /files/<name>. */
  add(name: string, size: number): Blob_ {
    const bytes = randomBytes(size);
    const path = `/files/${name}`;
    this.files.set(path, bytes);
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    return { bytes, ref: { artifact: name, sha256, size, url: `${this.url}${path}` } };
  }

  of(ref: ArtifactRef) {
    return this.requests.filter((r) => r.path === new URL(ref.url!).pathname);
  }

  close() {
    this.server.closeAllConnections();
    return new Promise<void>((r) => this.server.close(() => r()));
  }
}

const origin = new Origin();
const dirs: string[] = [];
const caches: ArtifactCache[] = [];

beforeAll(() => origin.start());
afterAll(() => origin.close());
afterEach(async () => {
  await Promise.all(caches.splice(0).map((c) => c.stop()));
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir() {
  const d = mkdtempSync(join(tmpdir(), "edge-artifacts-"));
  dirs.push(d);
  return d;
}

function cacheIn(dataDir: string, over: Partial<ArtifactCacheOptions> = {}) {
  const registry = new Registry();
  let changes = 0;
  const cache = new ArtifactCache({
    dataDir,
    controlUrl: "http://control.invalid",
    budget: 64 * MiB,
    registry,
    retry: { baseMs: 100, maxMs: 400 },
    onChange: () => changes++,
    ...over,
  });
  caches.push(cache);
  return { cache, registry, changes: () => changes };
}

async function until(what: string, ok: () => boolean, ms = 8000) {
  const end = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const served = (c: ArtifactCache, ref: ArtifactRef) => c.urlFor(ref, "http://edge") !== ref.url;
const metric = (r: Registry, line: string) =>
  Number(
    r
      .render()
      .split("\n")
      .find((l) => l.startsWith(`${line} `))
      ?.split(" ")[1] ?? 0,
  );

async function bytesOf(body: ReadableStream<Uint8Array> | Blob) {
  return Buffer.from(await new Response(body).arrayBuffer());
}

describe("edge artifact cache", () => {
  it("fetches a wanted artifact, verifies it, then names and serves its own copy", async () => {
    const dataDir = tempDir();
    const a = origin.add("vmlinuz-a", 3 * MiB + 17);
    const { cache, registry, changes } = cacheIn(dataDir);
    expect(await cache.files.open(a.ref.sha256)).toBeUndefined();
    cache.want([a.ref]);
    // Until it is cached, nodes go to the origin.
    expect(cache.urlFor(a.ref, "http://edge")).toBe(a.ref.url);
    expect(cache.origin(a.ref.sha256)).toBe(a.ref.url);
    await until("cached", () => served(cache, a.ref));
    expect(cache.urlFor(a.ref, "http://edge:8081")).toBe(`http://edge:8081${artifactPath(a.ref)}`);
    expect(readFileSync(join(dataDir, "artifacts", a.ref.sha256)).equals(a.bytes)).toBe(true);
    expect(existsSync(join(dataDir, "artifacts", "partial", a.ref.sha256))).toBe(false);
    const file = await cache.files.open(a.ref.sha256);
    expect(file?.size).toBe(a.ref.size);
    expect((await bytesOf(await file!.read(0, a.ref.size))).equals(a.bytes)).toBe(true);
    expect(changes()).toBe(1);
    const s = cache.status();
    expect(s).toMatchObject({
      files: 1,
      bytes: a.ref.size,
      wanted: 1,
      wantedCached: 1,
      downloading: [],
      failed: [],
    });
    expect(metric(registry, 'chamicore_edge_artifact_downloads_total{outcome="verified"}')).toBe(1);
    expect(metric(registry, "chamicore_edge_artifact_downloaded_bytes_total")).toBe(a.ref.size);
    expect(metric(registry, "chamicore_edge_artifacts_cached")).toBe(1);
    expect(metric(registry, "chamicore_edge_artifact_cached_bytes")).toBe(a.ref.size);
    // Wanted again after every batch: nothing is fetched twice.
    cache.want([a.ref]);
    expect(origin.of(a.ref)).toHaveLength(1);
  });

  it("refuses bytes that do not match the digest, and fetches them again", async () => {
    const a = origin.add("initrd-corrupt", 2 * MiB);
    origin.trouble.set(new URL(a.ref.url!).pathname, { corrupt: 1 });
    const { cache, registry } = cacheIn(tempDir());
    cache.want([a.ref]);
    await until("cached after a refusal", () => served(cache, a.ref));
    expect(cache.status().corrupt).toBe(1);
    expect(metric(registry, 'chamicore_edge_artifact_downloads_total{outcome="corrupt"}')).toBe(1);
    expect(metric(registry, 'chamicore_edge_artifact_downloads_total{outcome="verified"}')).toBe(1);
    // The second attempt started over: the refused bytes were not kept for a resume.
    expect(origin.of(a.ref).map((r) => r.range)).toEqual([undefined, undefined]);
    expect(
      (await bytesOf(await (await cache.files.open(a.ref.sha256))!.read(0, a.ref.size))).equals(a.bytes),
    ).toBe(true);
  });

  it("refuses an artifact of the wrong size without fetching it", async () => {
    const a = origin.add("wrong-size", 1 * MiB);
    const ref = { ...a.ref, size: a.ref.size + 1 };
    const { cache } = cacheIn(tempDir(), { retry: { baseMs: 60_000, maxMs: 60_000 } });
    cache.want([ref]);
    await until("refused", () => cache.status().failed.length === 1);
    expect(cache.status().failed[0]).toMatchObject({ artifact: "wrong-size", attempts: 1 });
    expect(cache.status().failed[0]!.reason).toMatch(/1048576 bytes, not 1048577/);
    expect(cache.status().corrupt).toBe(1);
    expect(await cache.files.open(ref.sha256)).toBeUndefined();
  });

  it("never stops the edge over its directory: a data directory it cannot write reports failed downloads", async () => {
    const notADir = join(tempDir(), "a-file");
    writeFileSync(notADir, "");
    const a = origin.add("unwritable", 1000);
    const { cache } = cacheIn(notADir, { retry: { baseMs: 60_000, maxMs: 60_000 } });
    cache.want([a.ref]);
    await until("failed", () => cache.status().failed.length === 1);
    expect(cache.status().failed[0]!.reason).toMatch(/ENOTDIR/);
    expect(cache.urlFor(a.ref, "http://edge")).toBe(a.ref.url);
  });

  it("resumes a download cut mid-way with a Range from what it holds", async () => {
    const dataDir = tempDir();
    const a = origin.add("vmlinuz-cut", 3 * MiB);
    const cut = 1 * MiB + 12_345;
    origin.trouble.set(new URL(a.ref.url!).pathname, { cutAt: cut });
    const { cache, registry } = cacheIn(dataDir, { retry: { baseMs: 500, maxMs: 500 } });
    cache.want([a.ref]);
    await until("the cut reported", () => cache.status().failed.length === 1);
    // The partial file keeps what came before the cut.
    expect(statSync(join(dataDir, "artifacts", "partial", a.ref.sha256)).size).toBe(cut);
    await until("cached", () => served(cache, a.ref));
    expect(origin.of(a.ref).map((r) => r.range)).toEqual([undefined, `bytes=${cut}-`]);
    expect(metric(registry, 'chamicore_edge_artifact_downloads_total{outcome="failed"}')).toBe(1);
    expect(metric(registry, "chamicore_edge_artifact_downloaded_bytes_total")).toBe(a.ref.size);
    expect(readFileSync(join(dataDir, "artifacts", a.ref.sha256)).equals(a.bytes)).toBe(true);
  });

  it("stops at once, keeps the partial file, and a new start resumes it", async () => {
    const dataDir = tempDir();
    const a = origin.add("image-stop", 2 * MiB);
    const first = cacheIn(dataDir, { bandwidth: 1 * MiB });
    first.cache.want([a.ref]);
    await until("under way", () => (first.cache.status().downloading[0]?.bytes ?? 0) > 256 * 1024);
    const t0 = performance.now();
    await first.cache.stop();
    expect(performance.now() - t0).toBeLessThan(500);
    const kept = statSync(join(dataDir, "artifacts", "partial", a.ref.sha256)).size;
    expect(kept).toBeGreaterThan(0);
    expect(kept).toBeLessThan(a.ref.size);
    const second = cacheIn(dataDir);
    second.cache.want([a.ref]);
    await until("cached", () => served(second.cache, a.ref));
    expect(origin.of(a.ref).at(-1)?.range).toBe(`bytes=${kept}-`);
  });

  it("keeps all downloads under the bandwidth cap", async () => {
    const a = origin.add("capped-1", 1 * MiB);
    const b = origin.add("capped-2", 1 * MiB);
    const { cache } = cacheIn(tempDir(), { bandwidth: 1 * MiB });
    const t0 = performance.now();
    cache.want([a.ref, b.ref]);
    await until("both cached", () => served(cache, a.ref) && served(cache, b.ref));
    // 2 MiB at 1 MiB/s, two at a time, with a quarter second of burst: at least 1.75 s.
    expect(performance.now() - t0).toBeGreaterThan(1500);
  });

  it("evicts the least recently served unwanted files to make room, and reports what cannot fit", async () => {
    const dataDir = tempDir();
    const [a, b, c] = ["budget-a", "budget-b", "budget-c"].map((n) => origin.add(n, 1 * MiB));
    const { cache, registry, changes } = cacheIn(dataDir, { budget: 2.5 * MiB });
    cache.want([a!.ref, b!.ref]);
    await until("a and b cached", () => served(cache, a!.ref) && served(cache, b!.ref));
    // b served before a: a is the more recently served.
    await cache.files.open(b!.ref.sha256);
    await new Promise((r) => setTimeout(r, 5));
    await cache.files.open(a!.ref.sha256);
    cache.want([c!.ref]);
    await until("c cached", () => served(cache, c!.ref));
    expect(existsSync(join(dataDir, "artifacts", b!.ref.sha256))).toBe(false);
    expect(await cache.files.open(b!.ref.sha256)).toBeUndefined();
    expect(await cache.files.open(a!.ref.sha256)).toBeDefined();
    expect(metric(registry, "chamicore_edge_artifact_evictions_total")).toBe(1);
    expect(changes()).toBe(4); // a, b, b evicted, c
    // All three wanted: the two held are wanted too, so b cannot fit and is left to its origin.
    cache.want([a!.ref, b!.ref, c!.ref]);
    await until("over budget reported", () => cache.status().overBudget.length === 1);
    expect(cache.status()).toMatchObject({
      files: 2,
      bytes: 2 * MiB,
      overBudget: [{ artifact: "budget-b", size: MiB }],
    });
    expect(cache.urlFor(b!.ref, "http://edge")).toBe(b!.ref.url);
    expect(origin.of(b!.ref)).toHaveLength(1);
  });

  it("serves files found at start only once hashed again, and removes one that does not match", async () => {
    const dataDir = tempDir();
    const a = origin.add("restart-a", 1 * MiB);
    const b = origin.add("restart-b", 1 * MiB);
    const first = cacheIn(dataDir);
    first.cache.want([a.ref, b.ref]);
    await until("cached", () => served(first.cache, a.ref) && served(first.cache, b.ref));
    await first.cache.stop();
    // Rot on disk: one byte of b changes while the edge is down.
    const bPath = join(dataDir, "artifacts", b.ref.sha256);
    const rotten = readFileSync(bPath);
    rotten[10]! ^= 1;
    writeFileSync(bPath, rotten);
    const requestsBefore = origin.requests.length;
    const second = cacheIn(dataDir);
    expect(second.cache.status().verifying).toBe(2);
    expect(await second.cache.files.open(a.ref.sha256)).toBeUndefined();
    second.cache.want([a.ref, b.ref]);
    await until("verified", () => second.cache.status().verifying === 0 && served(second.cache, b.ref));
    // a was fine: not fetched again; b was removed and fetched again.
    expect(origin.requests.slice(requestsBefore).map((r) => r.path)).toEqual(["/files/restart-b"]);
    expect(readFileSync(bPath).equals(b.bytes)).toBe(true);
  });

  it("answers byte ranges from the cached file through the edge's content route", async () => {
    const a = origin.add("ranged", 4 * MiB + 3);
    const { cache } = cacheIn(tempDir());
    cache.want([a.ref]);
    await until("cached", () => served(cache, a.ref));
    const file = (await cache.files.open(a.ref.sha256))!;
    for (const [start, end] of [
      [0, 1],
      [1, 65_537],
      [MiB - 1, 3 * MiB + 1],
      [a.ref.size - 5, a.ref.size],
    ] as const)
      expect((await bytesOf(await file.read(start, end))).equals(a.bytes.subarray(start, end))).toBe(true);

    const app = new OpenAPIHono<AppEnv>();
    app.use(async (c, next) => {
      c.set("deps", { artifacts: { files: cache.files, origin: (s: string) => cache.origin(s) } } as never);
      await next();
    });
    registerArtifactContent(app);
    const res = await app.request(artifactPath(a.ref), { headers: { Range: "bytes=1000-2999" } });
    expect(res.status).toBe(206);
    expect(res.headers.get("Content-Range")).toBe(`bytes 1000-2999/${a.ref.size}`);
    expect(Buffer.from(await res.arrayBuffer()).equals(a.bytes.subarray(1000, 3000))).toBe(true);
    // Not held, still wanted: redirected to its origin.
    const other = origin.add("not-yet", 10);
    cache.want([a.ref, other.ref]);
    const redirect = await app.request(artifactPath(other.ref));
    expect(redirect.status).toBe(302);
    expect(redirect.headers.get("Location")).toBe(other.ref.url);
  });

  it("is fed the kernels and initrds of the replica's boot parameters, and the edge's scripts then name its copy", async () => {
    const dir = tempDir();
    const replica = Replica.open(dir, { sqlite: openBetterSqlite });
    try {
      const k = origin.add("vmlinuz-edge", 1 * MiB).ref;
      const i = origin.add("initrd-edge", 2 * MiB).ref;
      const T = "2026-01-01T00:00:00.000Z";
      const doc = (kind: string, id: string, spec: Record<string, unknown>) => ({
        kind,
        apiVersion: "v1",
        metadata: { id, etag: "e0", createdAt: T, updatedAt: T },
        spec,
      });
      const params = (id: string, spec: Record<string, unknown>) =>
        doc("BootParameters", id, {
          id,
          componentId: null,
          role: null,
          isDefault: false,
          kernelUri: "",
          initrdUri: "",
          cmdline: "quiet",
          ...spec,
        });
      replica.applySnapshot({
        position: 1,
        components: [
          doc("Component", "x0n0", {
            id: "x0n0",
            type: "Node",
            state: "Ready",
            role: "Compute",
            nid: 1,
            enabled: true,
          }),
        ],
        interfaces: [
          doc("EthernetInterface", "i0", {
            id: "i0",
            componentId: "x0n0",
            macAddress: "02:00:00:00:00:01",
            ipAddresses: [],
            description: "",
          }),
        ],
        groups: [],
        partitions: [],
        payloads: [],
        revocations: [],
        bootparams: [
          params("bp-compute", { role: "Compute", kernel: k, initrd: i }),
          params("bp-default", { isDefault: true, kernel: k, initrd: null }),
          // Written before artifacts existed: no kernel or initrd fields at all.
          params("bp-old", { role: "Service", kernelUri: "http://images/vmlinuz" }),
        ],
      } as unknown as Snapshot);
      const refs = artifactRefsOf(replicaBootParams(replica));
      expect(refs).toHaveLength(2);
      expect(refs).toEqual(expect.arrayContaining([k, i]));

      const { cache, registry } = cacheIn(dir);
      const serving: ServingSettings = {
        publicUrl: "http://edge.example:8081",
        unknownMac: "retry",
        trustedProxies: [],
        peerAddress: () => "10.0.0.1",
      };
      const app = createEdgeApp({
        replica,
        sync: { ready: true, status: () => ({}) } as unknown as EdgeSync,
        logger: silentLogger,
        registry,
        serving,
        artifacts: cache,
      });
      const script = async () =>
        (
          await app.fetch(new Request("http://edge.example:8081/boot/v1/bootscript?mac=02:00:00:00:00:01"))
        ).text();
      cache.want(refs);
      expect(await script()).toContain(`kernel ${k.url}`);
      await until("both cached", () => served(cache, k) && served(cache, i));
      const own = await script();
      expect(own).toContain(`kernel http://edge.example:8081${artifactPath(k)}`);
      expect(own).toContain(`initrd http://edge.example:8081${artifactPath(i)}`);
      // Through the whole edge app (its /boot/* middleware and hot path in front).
      const res = await app.fetch(
        new Request(`http://edge.example:8081${artifactPath(i)}`, { headers: { Range: "bytes=-10" } }),
      );
      expect(res.status).toBe(206);
      expect(res.headers.get("Content-Range")).toBe(`bytes ${i.size - 10}-${i.size - 1}/${i.size}`);
      expect((await res.arrayBuffer()).byteLength).toBe(10);
      const status = (await (await app.fetch(new Request("http://edge.example:8081/status"))).json()) as {
        artifacts: { files: number; bytes: number };
      };
      expect(status.artifacts).toMatchObject({ files: 2, bytes: 3 * MiB });
      expect((await app.fetch(new Request("http://edge.example:8081/metrics"))).status).toBe(200);
      expect(await (await app.fetch(new Request("http://edge.example:8081/metrics"))).text()).toContain(
        "chamicore_edge_artifacts_cached 2",
      );
    } finally {
      replica.close();
    }
  });
});
