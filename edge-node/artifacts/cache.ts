/**
 * The edge's verified artifact cache: the kernels and initrds its boot
 * parameters name, fetched once over the uplink and served to the rack's
 * nodes from the management host's disk.
 *
 * Layout: `<CHAMICORE_EDGE_DATA_DIR>/artifacts/<sha256>` holds verified
 * files only; `artifacts/partial/<sha256>` the downloads in progress. A file
 * gets its final name by an atomic rename after its size and SHA-256 were
 * checked and its bytes fsynced, so a name there always stood for verified
 * bytes at some point.
 *
 * Files found at start are not trusted by their name alone (a disk can rot,
 * and someone may have copied a file in by hand): each is hashed again in
 * the background, one at a time, before it is served, and removed if it does
 * not match. Until then nodes are sent to the origin, so a restart never
 * delays a boot. A wanted artifact whose file is being verified is not
 * downloaded meanwhile.
 *
 * Downloads run in the background (`want`), a few at a time, under one
 * bandwidth cap; a failure is retried with backoff and never reaches the
 * callers. Until an artifact is cached, boot scripts name its origin
 * (`urlFor`), and the content route redirects there (`origin`).
 */
import { mkdirSync, openAsBlob, readdirSync, statSync } from "node:fs";
import { mkdir, open, readdir, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { ArtifactRef } from "../../functions/artifacts/schemas";
import { artifactPath, SHA256_PATTERN } from "../../functions/artifacts/schemas";
import type { ArtifactFile, ArtifactFiles } from "../../functions/artifacts/store";
import { backoffDelay } from "../../shared/backoff";
import type { Logger } from "../../shared/log";
import { Counter, Gauge, type Registry } from "../../shared/metrics";
import { type HeldFile, planSpace } from "./budget";
import { type DownloadOutcome, download, hashFile } from "./download";
import { ARTIFACTS_DIR } from "./layout";
import { Throttle } from "./throttle";

export interface ArtifactCacheOptions {
  /** CHAMICORE_EDGE_DATA_DIR: the cache lives in its `artifacts/`. */
  dataDir: string;
  /**
   * CHAMICORE_CONTROL_URL: the origin of artifacts the control plane holds
   * (`url: null`). None (an edge fed by bundles alone): those come only in
   * bundles, and are listed in the status as `noOrigin` until one brings them.
   */
  controlUrl: string | undefined;
  /** CHAMICORE_EDGE_ARTIFACT_BUDGET: bytes the verified and partial files may take. */
  budget: number;
  /** CHAMICORE_EDGE_ARTIFACT_CONCURRENCY: downloads at once (default 2). */
  concurrency?: number;
  /** CHAMICORE_EDGE_ARTIFACT_BANDWIDTH: bytes per second across all downloads; unset: no cap. */
  bandwidth?: number;
  registry?: Registry;
  logger?: Logger;
  /** Called when the set of files served changes (one became usable, or one was evicted). */
  onChange?: () => void;
  /** Backoff between attempts at one artifact: doubling from `baseMs` up to `maxMs`, with jitter (default 2 s → 5 min). */
  retry?: { baseMs: number; maxMs: number };
  /** An attempt with no byte for this long fails (default 60 s). */
  idleMs?: number;
}

/** What /status shows as `artifacts`. */
export interface ArtifactCacheStatus {
  dir: string;
  /** Verified files served from here, and their bytes. */
  files: number;
  bytes: number;
  budget: number;
  /** Bytes per second across downloads; null: no cap. */
  bandwidth: number | null;
  /** Artifacts the boot parameters name, and how many of them are cached. */
  wanted: number;
  wantedCached: number;
  /** Files found at start still being hashed before they are served. */
  verifying: number;
  downloading: { artifact: string; sha256: string; size: number; bytes: number }[];
  /** Waiting for their next attempt. */
  failed: { artifact: string; sha256: string; reason: string; attempts: number; retryAt: string }[];
  /** Wanted but not fetched: the wanted files alone would exceed the budget. Nodes get them from the origin. */
  overBudget: { artifact: string; sha256: string; size: number }[];
  /** Wanted, held by the control plane, and this edge has no uplink: only a bundle can bring them. */
  noOrigin: { artifact: string; sha256: string; size: number }[];
  /** Downloads refused because the bytes did not match, since start. */
  corrupt: number;
}

interface Cached extends HeldFile {
  path: string;
}

interface Job {
  ref: ArtifactRef;
  state: "queued" | "downloading" | "waiting" | "over-budget" | "no-origin";
  bytes: number;
  attempts: number;
  reason?: string;
  retryAt?: number;
  timer?: ReturnType<typeof setTimeout>;
  controller?: AbortController;
  /** No longer wanted: its partial file goes when its attempt ends. */
  dropped?: boolean;
}

const PARTIAL = "partial";

export class ArtifactCache {
  readonly dir: string;
  /** Verified files only: what the content route serves. */
  readonly files: ArtifactFiles;
  private readonly partialDir: string;
  private readonly controlUrl: string | undefined;
  private readonly concurrency: number;
  private readonly throttle: Throttle | undefined;
  private readonly retry: { baseMs: number; maxMs: number };
  private readonly log: Logger | undefined;
  private readonly cached = new Map<string, Cached>();
  /** Found at start, not yet hashed: sha256 → size on disk. */
  private readonly unverified = new Map<string, number>();
  /** A verification loop runs (it takes files found meanwhile too). */
  private verifying = false;
  private wanted = new Map<string, ArtifactRef>();
  private readonly jobs = new Map<string, Job>();
  private readonly running = new Set<Promise<void>>();
  /** Digests with an attempt still running (possibly one no longer wanted, still closing its partial file). */
  private readonly busy = new Set<string>();
  private readonly stopping = new AbortController();
  private active = 0;
  private corrupt = 0;
  private readonly m: {
    downloaded: { inc(by?: number): void };
    outcomes: Counter;
    evictions: { inc(by?: number): void };
    files: Gauge;
    bytes: Gauge;
  };

  constructor(private readonly o: ArtifactCacheOptions) {
    this.dir = join(o.dataDir, ARTIFACTS_DIR);
    this.partialDir = join(this.dir, PARTIAL);
    this.controlUrl = o.controlUrl?.replace(/\/+$/, "");
    this.concurrency = Math.max(1, o.concurrency ?? 2);
    this.throttle = o.bandwidth ? new Throttle(o.bandwidth) : undefined;
    this.retry = o.retry ?? { baseMs: 2000, maxMs: 5 * 60_000 };
    this.log = o.logger;
    const r = o.registry;
    const counter = (name: string, help: string) =>
      r ? r.register(new Counter(name, help)) : new Counter(name, help);
    const gauge = (name: string, help: string) =>
      r ? r.register(new Gauge(name, help)) : new Gauge(name, help);
    this.m = {
      downloaded: counter(
        "chamicore_edge_artifact_downloaded_bytes_total",
        "Artifact bytes received from origins.",
      ).bind(),
      outcomes: counter(
        "chamicore_edge_artifact_downloads_total",
        "Artifact download attempts by outcome (verified, corrupt, failed).",
      ),
      evictions: counter(
        "chamicore_edge_artifact_evictions_total",
        "Cached artifacts removed to make room for wanted ones.",
      ).bind(),
      files: gauge("chamicore_edge_artifacts_cached", "Verified artifacts the edge serves from its disk."),
      bytes: gauge(
        "chamicore_edge_artifact_cached_bytes",
        "Bytes of the verified artifacts on the edge's disk.",
      ),
    };
    this.files = { open: async (sha256) => this.open(sha256) };
    this.scan();
    this.gauges();
    this.track(this.verifyFound());
  }

  /**
   * Files another process put in the directory (a bundle's import): each is
   * hashed again in the background, as at start, then served.
   */
  rescan(): void {
    if (this.stopping.signal.aborted) return;
    this.scan();
    if (!this.verifying) this.track(this.verifyFound());
  }

  /**
   * The artifacts the boot parameters name now. Fetches those not cached;
   * stops fetching, and forgets the partial files of, those no longer named.
   * Cheap when nothing changed: call it after every applied batch.
   */
  want(refs: Iterable<ArtifactRef>): void {
    if (this.stopping.signal.aborted) return;
    const next = new Map<string, ArtifactRef>();
    for (const ref of refs) if (!next.has(ref.sha256)) next.set(ref.sha256, ref);
    const changed = next.size !== this.wanted.size || [...next.keys()].some((k) => !this.wanted.has(k));
    this.wanted = next;
    if (!changed) return;
    for (const [sha, job] of this.jobs) {
      const ref = next.get(sha);
      if (ref) {
        job.ref = ref;
        if (job.state === "over-budget") job.state = "queued";
        continue;
      }
      this.jobs.delete(sha);
      clearTimeout(job.timer);
      if (job.controller) {
        job.dropped = true;
        job.controller.abort(new Error("no longer wanted"));
      } else void unlink(this.partialOf(sha)).catch(() => {});
    }
    for (const [sha, ref] of next)
      if (!this.cached.has(sha) && !this.jobs.has(sha))
        this.jobs.set(sha, { ref, state: "queued", bytes: 0, attempts: 0 });
    void this.dropOrphanPartials();
    this.pump();
  }

  /** Where a boot script sends a node for `ref`: this edge's copy once verified, else its origin. */
  urlFor(ref: ArtifactRef, base: string): string {
    const here = `${base}${artifactPath(ref)}`;
    return this.cached.has(ref.sha256) ? here : (this.originOf(ref) ?? here);
  }

  /** Where the content lives for a wanted artifact this edge does not hold (the content route redirects there). */
  origin(sha256: string): string | undefined {
    const ref = this.wanted.get(sha256);
    return ref ? this.originOf(ref) : undefined;
  }

  status(): ArtifactCacheStatus {
    const jobs = [...this.jobs.values()];
    const brief = (j: Job) => ({ artifact: j.ref.artifact, sha256: j.ref.sha256 });
    return {
      dir: this.dir,
      files: this.cached.size,
      bytes: this.cachedBytes(),
      budget: this.o.budget,
      bandwidth: this.o.bandwidth ?? null,
      wanted: this.wanted.size,
      wantedCached: [...this.wanted.keys()].filter((s) => this.cached.has(s)).length,
      verifying: this.unverified.size,
      downloading: jobs
        .filter((j) => j.state === "downloading")
        .map((j) => ({ ...brief(j), size: j.ref.size, bytes: j.bytes })),
      failed: jobs
        .filter((j) => j.state === "waiting")
        .map((j) => ({
          ...brief(j),
          reason: j.reason ?? "",
          attempts: j.attempts,
          retryAt: new Date(j.retryAt ?? Date.now()).toISOString(),
        })),
      overBudget: jobs
        .filter((j) => j.state === "over-budget")
        .map((j) => ({ ...brief(j), size: j.ref.size })),
      noOrigin: jobs.filter((j) => j.state === "no-origin").map((j) => ({ ...brief(j), size: j.ref.size })),
      corrupt: this.corrupt,
    };
  }

  get stopped(): boolean {
    return this.stopping.signal.aborted;
  }

  /** Aborts the downloads (their partial files stay for resuming) and the start-up verification. */
  async stop(): Promise<void> {
    this.stopping.abort(new Error("the edge is stopping"));
    for (const job of this.jobs.values()) {
      clearTimeout(job.timer);
      job.controller?.abort(this.stopping.signal.reason);
    }
    await Promise.allSettled([...this.running]);
  }

  /**
   * The files already here. A data directory that cannot take the cache's
   * folders (a full or read-only disk) does not stop the edge: nothing is
   * served from it, and each download tries again to create them.
   */
  private scan() {
    try {
      mkdirSync(this.partialDir, { recursive: true });
      for (const name of readdirSync(this.dir)) {
        if (!SHA256_PATTERN.test(name) || this.cached.has(name)) continue;
        const st = statSync(join(this.dir, name), { throwIfNoEntry: false });
        if (st?.isFile()) this.unverified.set(name, st.size);
      }
    } catch (e) {
      this.log?.warn("the artifact cache's directory is not usable; downloads will try again", {
        dir: this.dir,
        err: String(e),
      });
    }
  }

  private async open(sha256: string): Promise<ArtifactFile | undefined> {
    const c = this.cached.get(sha256);
    if (!c) return undefined;
    c.lastServed = Date.now();
    const { path, size } = c;
    return {
      size,
      // A file-backed Blob: streamed from disk as the answer is sent (sendfile on Bun), never read whole.
      read: async (start, end) => (await openAsBlob(path)).slice(start, end),
    };
  }

  private originOf(ref: ArtifactRef): string | undefined {
    if (ref.url !== null) return ref.url;
    return this.controlUrl === undefined ? undefined : `${this.controlUrl}${artifactPath(ref)}`;
  }

  private partialOf(sha256: string) {
    return join(this.partialDir, sha256);
  }

  /** Starts queued downloads while there is room for more. */
  private pump(): void {
    for (const job of this.jobs.values()) {
      if (this.active >= this.concurrency || this.stopping.signal.aborted) return;
      const sha = job.ref.sha256;
      if (job.state !== "queued" || this.unverified.has(sha) || this.busy.has(sha)) continue;
      if (this.cached.has(job.ref.sha256)) {
        this.jobs.delete(job.ref.sha256);
        continue;
      }
      if (this.originOf(job.ref) === undefined) {
        job.state = "no-origin";
        continue;
      }
      if (!this.makeRoom(job.ref)) {
        job.state = "over-budget";
        this.log?.warn("artifact not cached: the wanted artifacts exceed the budget", {
          artifact: job.ref.artifact,
          size: job.ref.size,
          budget: this.o.budget,
        });
        continue;
      }
      this.track(this.run(job));
    }
  }

  /** Evicts unwanted files, least recently served first, until `ref` fits; false if it cannot. */
  private makeRoom(ref: ArtifactRef): boolean {
    let used = this.cachedBytes();
    for (const size of this.unverified.values()) used += size;
    for (const j of this.jobs.values()) if (j.state === "downloading") used += j.ref.size;
    const evictable = [...this.cached.values()].filter((c) => !this.wanted.has(c.sha256));
    const plan = planSpace({ budget: this.o.budget, used, need: ref.size, evictable });
    if (!plan.fits) return false;
    for (const f of plan.evict) {
      const c = this.cached.get(f.sha256);
      if (!c) continue;
      // Out of the map first: no new request opens it; an answer already streaming may be cut.
      this.cached.delete(f.sha256);
      this.m.evictions.inc();
      void unlink(c.path).catch((e) =>
        this.log?.warn("cannot remove an evicted artifact", { path: c.path, err: String(e) }),
      );
      this.log?.info("artifact evicted", { sha256: f.sha256, size: f.size });
    }
    if (plan.evict.length > 0) this.changed();
    return true;
  }

  private async run(job: Job): Promise<void> {
    const { ref } = job;
    const controller = new AbortController();
    job.state = "downloading";
    job.controller = controller;
    job.bytes = 0;
    this.active++;
    this.busy.add(ref.sha256);
    const partial = this.partialOf(ref.sha256);
    const url = this.originOf(ref)!;
    let out: DownloadOutcome;
    try {
      await mkdir(this.partialDir, { recursive: true });
      out = await download({
        url,
        sha256: ref.sha256,
        size: ref.size,
        partial,
        signal: controller.signal,
        throttle: this.throttle,
        idleMs: this.o.idleMs ?? 60_000,
        progress: (n) => {
          job.bytes = n;
        },
        received: (n) => this.m.downloaded.inc(n),
      });
      if (out.kind === "verified") out = await this.install(ref, partial);
    } catch (e) {
      out = { kind: "failed", reason: e instanceof Error ? e.message : String(e) };
    } finally {
      this.active--;
      job.controller = undefined;
    }
    if (job.dropped) await unlink(partial).catch(() => {});
    this.busy.delete(ref.sha256);
    if (out.kind === "aborted") return this.pump();
    this.m.outcomes.inc({ outcome: out.kind });
    if (out.kind === "verified") {
      this.jobs.delete(ref.sha256);
      this.log?.info("artifact cached", { artifact: ref.artifact, sha256: ref.sha256, size: ref.size });
    } else {
      if (out.kind === "corrupt") this.corrupt++;
      // Not again for what nothing wants any more, nor once stopping.
      if (job.dropped || this.stopping.signal.aborted) return this.pump();
      this.schedule(job, out.reason);
      this.log?.warn(out.kind === "corrupt" ? "artifact download refused" : "artifact download failed", {
        artifact: ref.artifact,
        sha256: ref.sha256,
        url,
        reason: out.reason,
        attempts: job.attempts,
        retryInMs: (job.retryAt ?? Date.now()) - Date.now(),
      });
    }
    this.pump();
  }

  /** Renames a verified partial file into place, durably, and serves it. */
  private async install(ref: ArtifactRef, partial: string): Promise<DownloadOutcome> {
    const path = join(this.dir, ref.sha256);
    try {
      await rename(partial, path);
      await this.syncDir();
    } catch (e) {
      return { kind: "failed", reason: `cannot move the verified file into place: ${String(e)}` };
    }
    this.cached.set(ref.sha256, { sha256: ref.sha256, size: ref.size, path, lastServed: Date.now() });
    this.changed();
    return { kind: "verified" };
  }

  /** The rename survives a power cut only once the directory is fsynced. */
  private async syncDir() {
    try {
      const d = await open(this.dir, "r");
      await d.sync().finally(() => d.close());
    } catch (e) {
      // Some file systems refuse fsync on a directory; the rename happened all the same.
      this.log?.debug("cannot fsync the artifact directory", { dir: this.dir, err: String(e) });
    }
  }

  private schedule(job: Job, reason: string) {
    job.attempts++;
    job.reason = reason;
    job.state = "waiting";
    const delay = backoffDelay(job.attempts, {
      firstMs: this.retry.baseMs,
      maxMs: this.retry.maxMs,
      jitter: 0.5,
    });
    job.retryAt = Date.now() + delay;
    job.timer = setTimeout(() => {
      job.timer = undefined;
      if (this.jobs.get(job.ref.sha256) !== job) return;
      job.state = "queued";
      this.pump();
    }, delay);
    job.timer.unref?.();
  }

  /**
   * Hashes the files found at start, one at a time, wanted ones first; a
   * match is served from then on, anything else is removed (and fetched
   * again if wanted).
   */
  private async verifyFound(): Promise<void> {
    this.verifying = true;
    try {
      await this.verifyEach();
    } finally {
      this.verifying = false;
    }
  }

  private async verifyEach(): Promise<void> {
    // After the caller's first `want` (made right after construction), so that wanted files go first.
    await null;
    while (this.unverified.size > 0 && !this.stopping.signal.aborted) {
      const keys = [...this.unverified.keys()];
      const sha = keys.find((k) => this.wanted.has(k)) ?? keys[0]!;
      const path = join(this.dir, sha);
      let ok = false;
      let size = 0;
      try {
        const h = await hashFile(path, this.stopping.signal);
        ok = h.sha256 === sha;
        size = h.size;
        if (!ok)
          this.log?.warn("cached artifact does not match its name: removed", { path, sha256: h.sha256 });
      } catch (e) {
        if (this.stopping.signal.aborted) return;
        this.log?.warn("cannot verify a cached artifact: removed", { path, err: String(e) });
      }
      this.unverified.delete(sha);
      if (ok) {
        const mtime = statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? Date.now();
        // Until served again: when it was cached (the last serve is not kept across restarts).
        this.cached.set(sha, { sha256: sha, size, path, lastServed: mtime });
        this.jobs.delete(sha);
        this.changed();
      } else {
        this.corrupt++;
        await unlink(path).catch(() => {});
        this.gauges();
      }
      this.pump();
    }
  }

  /** Partial files of artifacts nothing wants (after a restart, or a change of boot parameters). */
  private async dropOrphanPartials() {
    let names: string[];
    try {
      names = await readdir(this.partialDir);
    } catch {
      return;
    }
    for (const name of names)
      if (!this.jobs.has(name)) await unlink(join(this.partialDir, name)).catch(() => {});
  }

  private track(p: Promise<void>) {
    const tracked = p
      .catch((e) => this.log?.error("artifact cache", { err: String(e) }))
      .finally(() => this.running.delete(tracked));
    this.running.add(tracked);
  }

  private cachedBytes() {
    let n = 0;
    for (const c of this.cached.values()) n += c.size;
    return n;
  }

  private gauges() {
    this.m.files.set(this.cached.size);
    this.m.bytes.set(this.cachedBytes());
  }

  private changed() {
    this.gauges();
    try {
      this.o.onChange?.();
    } catch (e) {
      this.log?.error("artifact cache onChange", { err: String(e) });
    }
  }
}
