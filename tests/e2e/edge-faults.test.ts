/**
 * The edge node under faults, with real processes: `chamicore serve` on
 * Postgres, a private nats-server with JetStream that the test stops and
 * restarts, and `chamicore edge` processes.
 *
 * - NATS restarted in the middle of a burst of ~1,000 changes: every
 *   acknowledged change reaches the edge, none is applied twice, and the
 *   replica ends equal to the control plane's snapshot.
 * - The edge's disk full (its data directory on a small tmpfs, filled up):
 *   it keeps serving what it has, says why it stopped moving on /status,
 *   /metrics and `chamicore edge status`, acks nothing it did not apply, and
 *   once space returns catches up from its position, without a snapshot.
 *
 * Each fault prints what was in flight, what was lost (0) and how long the
 * edge took to catch up.
 */
import { execFileSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { beforeAll, describe, expect, it } from "vitest";
import {
  type Api,
  type ControlPlane,
  cleanupAfterAll,
  createEdgeAccount,
  edgeDataDir,
  expectReplicaEqualsSnapshot as expectReplicaMatches,
  edgeEnv as siteEdgeEnv,
  startEdge as siteStartEdge,
  startControlPlane,
} from "../support/edge-site";
import { eventually, type PrivateNats, uniqueStream } from "../support/nats";
import { type Proc, run } from "../support/process";

const C = "/hsm/v2/State/Components";
const cleanup = cleanupAfterAll();

let site: ControlPlane;
let nats: PrivateNats;
let control: Proc & { url: string };
let api: Api;
let edgeCreds: { id: string; secret: string };
const { stream, prefix } = uniqueStream("edgefaults");

const feedHead = async (): Promise<number> =>
  (await api("GET", "/events/v1/changes?after=0&limit=1")).json.metadata.head;

/** Every event after `after` up to `head`, from the change feed. */
async function feed(after: number, head: number) {
  const out: { position: number; type: string }[] = [];
  for (let p = after; p < head; ) {
    const page = (await api("GET", `/events/v1/changes?after=${p}&limit=1000`)).json;
    if (page.items.length === 0) break;
    out.push(...page.items);
    p = page.metadata.next;
  }
  return out.filter((e) => e.position <= head);
}

const edgeEnv = (name: string, dir: string) =>
  siteEdgeEnv(site, edgeCreds, dir, { CHAMICORE_EDGE_NAME: name });

const startEdge = (env: Record<string, string>) => siteStartEdge(cleanup, env);

interface EdgeStatus {
  position: number;
  head: number;
  mode: string;
  apply: { ok: boolean; reason: string | null; error: string | null; since: string | null };
}
const status = async (base: string) => (await (await fetch(`${base}/status`)).json()) as EdgeStatus;

/** Sum of every series of a metric (all label sets), or undefined when absent. */
const metric = async (base: string, name: string) => {
  const text = await (await fetch(`${base}/metrics`)).text();
  const lines = text.split("\n").filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return lines.length ? lines.reduce((n, l) => n + Number(l.split(" ").at(-1)), 0) : undefined;
};

const mac = (block: number, i: number) =>
  `02:00:00:${block.toString(16).padStart(2, "0")}:${(i >> 8).toString(16).padStart(2, "0")}:${(i & 255).toString(16).padStart(2, "0")}`;

/** Boot scripts and cloud-init of the nodes made in beforeAll (no test changes them). */
const PATHS = [
  ...Array.from({ length: 5 }, (_, i) => `/boot/v1/bootscript?mac=${mac(1, i)}`),
  "/cloud-init/x1000c0s0b0n0/user-data",
  "/cloud-init/x1000c0s1b0n0/meta-data",
];
const answersOf = (base: string) =>
  Promise.all(
    PATHS.map(async (p) => {
      const r = await fetch(base + p);
      return { status: r.status, text: await r.text() };
    }),
  );

const script = async (base: string, mac: string) => {
  const res = await fetch(`${base}/boot/v1/bootscript?mac=${mac}`);
  return { status: res.status, kind: res.headers.get("x-chamicore-boot"), text: await res.text() };
};

/** Edge started, holding its first snapshot, caught up with the feed and on the stream. */
async function readyEdge(env: Record<string, string>) {
  const e = await startEdge(env);
  const head = await feedHead();
  await eventually(
    "the edge caught up and on the stream",
    () => status(e.url),
    (s) => s.position >= head && s.mode === "stream",
    30_000,
  );
  return e;
}

/** Stops the edge and compares its replica, row for row, with the control plane's snapshot. */
async function expectReplicaEqualsSnapshot(e: Proc, dir: string) {
  e.child.kill("SIGTERM");
  expect(await e.exited).toEqual({ code: 0, signal: null });
  await expectReplicaMatches(api, dir);
}

/** Runs `jobs` with `width` workers; counts what is in flight at any moment. */
function pool(width: number, jobs: (() => Promise<void>)[]) {
  const state = { inFlight: 0, done: 0 };
  let next = 0;
  const worker = async () => {
    while (next < jobs.length) {
      const job = jobs[next++]!;
      state.inFlight++;
      try {
        await job();
      } finally {
        state.inFlight--;
        state.done++;
      }
    }
  };
  return { state, finished: Promise.all(Array.from({ length: width }, worker)) };
}

beforeAll(async () => {
  site = await startControlPlane(cleanup, { database: "edge_faults", stream, prefix });
  ({ nats, control, api } = site);
  edgeCreds = await createEdgeAccount(api, "edge-faults");
  await api("POST", "/boot/v1/bootparams", { isDefault: true, kernelUri: "http://images/default-vmlinuz" });
  await api("POST", "/boot/v1/bootparams", { role: "Compute", kernelUri: "http://images/compute-v1" });
  for (let i = 0; i < 5; i++)
    await api("POST", C, {
      id: `x1000c0s${i}b0n0`,
      nid: i + 1,
      role: i < 3 ? "Compute" : "Service",
      interfaces: [{ macAddress: mac(1, i), ipAddresses: [{ ipAddress: `10.1.0.${i + 1}` }] }],
    });
  await api("POST", "/cloud-init/payloads", {
    role: "Compute",
    userData: "#cloud-config\npackages: [munge]\n",
  });
}, 90_000);

describe("the edge under faults", () => {
  it("NATS restarted in the middle of ~1,000 changes: every acknowledged change once", {
    timeout: 150_000,
  }, async () => {
    const dir = edgeDataDir(cleanup, "edge-faults");
    let e = await readyEdge(edgeEnv("faults-nats", dir));
    const from = (await status(e.url)).position;
    const appliedBefore = (await metric(e.url, "chamicore_edge_events_applied_total")) ?? 0;

    // 760 nodes created; every fifth then moved to the Compute role; every tenth deleted.
    const N = 760;
    const id = (i: number) => `x5000c0s${i}b0n0`;
    const patched = new Set<number>();
    const deleted = new Set<number>();
    const refused: string[] = [];
    let acked = 0;
    const write = async (method: string, path: string, body?: unknown) => {
      const r = await api(method, path, body);
      if (r.status >= 300) refused.push(`${method} ${path}: ${r.status} ${r.text.slice(0, 200)}`);
      else acked++;
      return r.status < 300;
    };
    const jobs = Array.from({ length: N }, (_, i) => async () => {
      if (
        !(await write("POST", C, {
          id: id(i),
          nid: 5000 + i,
          role: "Service",
          interfaces: [{ macAddress: mac(5, i) }],
        }))
      )
        return;
      if (i % 5 === 0 && (await write("PATCH", `${C}/${id(i)}`, { role: "Compute" }))) patched.add(i);
      if (i % 10 === 3 && (await write("DELETE", `${C}/${id(i)}`))) deleted.add(i);
    });
    const burst = pool(8, jobs);
    const t0 = Date.now();

    // The fault: NATS goes away a third of the way in, and comes back 2 s later with its store.
    await eventually(
      "a third of the burst written",
      async () => acked,
      (n) => n >= 330,
      60_000,
    );
    const before = await status(e.url);
    expect(before.mode).toBe("stream");
    const atStop = {
      writesInFlight: burst.state.inFlight,
      eventsNotYetOnEdge: (await feedHead()) - before.position,
    };
    await nats.stop();
    await new Promise((r) => setTimeout(r, 2000));
    const writesInFlightAtRestart = burst.state.inFlight;
    await nats.start();
    const restartedAt = Date.now();
    await burst.finished;
    const burstEnded = Date.now();
    expect(refused).toEqual([]);

    const head = await feedHead();
    await eventually(
      "the edge caught up",
      async () => (await status(e.url)).position,
      (p) => p >= head,
      90_000,
    );
    const caughtUp = Date.now();
    await eventually(
      "back on the stream",
      async () => (await status(e.url)).mode,
      (m) => m === "stream",
      40_000,
    );

    // Exactly once: the edge applied one event per replicated event in the feed since it started.
    const events = await feed(from, head);
    const replicated = events.filter((ev) => !/^chamicore\.(power|discovery)\./.test(ev.type));
    expect(new Set(events.map((ev) => ev.position)).size).toBe(events.length);
    const applied = ((await metric(e.url, "chamicore_edge_events_applied_total")) ?? 0) - appliedBefore;
    expect(applied).toBe(replicated.length);

    // Nothing missing: every acknowledged node answers as its last acknowledged change says.
    const wrong: string[] = [];
    for (let i = 0; i < N; i += 40) {
      const answers = await Promise.all(
        Array.from({ length: Math.min(40, N - i) }, (_, k) => script(e.url, mac(5, i + k))),
      );
      answers.forEach((a, k) => {
        const n = i + k;
        const ok = deleted.has(n)
          ? a.kind === "wait"
          : a.status === 200 &&
            a.kind === "boot" &&
            a.text.includes(patched.has(n) ? "compute-v1" : "default-vmlinuz");
        if (!ok) wrong.push(`${id(n)}: ${a.status} ${a.kind}`);
      });
    }
    expect(wrong).toEqual([]);
    await expectReplicaEqualsSnapshot(e, dir);
    e = undefined as never;

    // For the record (the relay's part): copies the stream holds beyond one per event.
    const streamCopiesBeyondOne = (await streamMessages()) - (await feed(0, head)).length;
    const report = {
      fault: "NATS restarted mid-burst",
      changesAcknowledged: acked,
      eventsInFeed: events.length,
      appliedOnEdge: applied,
      writesInFlightAtStop: atStop.writesInFlight,
      writesInFlightAtRestart,
      eventsNotYetOnEdgeAtStop: atStop.eventsNotYetOnEdge,
      lost: wrong.length,
      appliedTwice: applied - replicated.length,
      burstMs: burstEnded - t0,
      catchUpAfterBurstMs: caughtUp - burstEnded,
      catchUpAfterRestartMs: caughtUp - restartedAt,
      streamCopiesBeyondOne,
    };
    console.log(`edge fault: ${JSON.stringify(report)}`);
  });

  const canMount = (() => {
    if (process.getuid?.() !== 0) return false;
    const probe = mkdtempSync(join(tmpdir(), "chamicore-tmpfs-probe-"));
    try {
      execFileSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", probe], { stdio: "ignore" });
      execFileSync("umount", [probe], { stdio: "ignore" });
      return true;
    } catch {
      return false;
    } finally {
      rmSync(probe, { recursive: true, force: true });
    }
  })();
  if (!canMount) console.warn("edge disk-full fault skipped: mounting a tmpfs needs root");

  it.skipIf(!canMount)(
    "its disk full: serves what it has, says so, acks nothing unapplied, catches up without a snapshot",
    { timeout: 120_000 },
    async () => {
      const mnt = tmpfs("24m");
      const dir = join(mnt, "edge");
      const env = edgeEnv("faults-disk", dir);
      let e = await readyEdge(env);

      // What it serves before the fault (the control plane answers the same).
      const served = await answersOf(e.url);
      expect(served).toEqual(await answersOf(control.url));
      expect(served.every((a) => a.status === 200)).toBe(true);

      // Fill the file system, then keep writing until the edge cannot take the changes.
      const filler = join(mnt, "filler");
      const fillerBytes = fill(filler);
      let stopWriting = false;
      let acked = 0;
      const refused: string[] = [];
      const created: number[] = [];
      const writers = pool(
        4,
        Array.from({ length: 3000 }, (_, i) => async () => {
          if (stopWriting) return;
          const r = await api("POST", C, {
            id: `x6000c0s${i}b0n0`,
            nid: 6000 + i,
            role: "Compute",
            interfaces: [{ macAddress: mac(6, i) }],
          });
          if (r.status === 201) {
            acked++;
            created.push(i);
          } else refused.push(`${r.status} ${r.text.slice(0, 200)}`);
        }),
      );
      const failing = await eventually(
        "the edge reporting the apply failure",
        () => status(e.url),
        (s) => s.apply?.ok === false,
        60_000,
      );
      // The control plane keeps writing for a while longer.
      const ackedAtFailure = acked;
      await eventually(
        "more writes",
        async () => acked,
        (n) => n >= ackedAtFailure + 50,
        30_000,
      );

      const s = await status(e.url);
      expect(s.apply).toMatchObject({ ok: false, reason: "disk-full" });
      expect(s.apply.error).toMatch(/^disk full: /);
      expect(Date.parse(s.apply.since ?? "")).toBeGreaterThan(0);
      expect(s.position).toBe(failing.position);
      expect(await feedHead()).toBeGreaterThan(s.position);
      expect(await metric(e.url, "chamicore_edge_apply_failing")).toBe(1);
      expect(await metric(e.url, 'chamicore_edge_apply_errors_total{reason="disk-full"}')).toBeGreaterThan(0);

      // It serves what it has, unchanged, under load.
      const during = (await Promise.all(Array.from({ length: 20 }, () => answersOf(e.url)))).flat();
      expect(during).toEqual(Array.from({ length: 20 }, () => served).flat());
      expect(e.child.exitCode).toBeNull();

      // Nothing it could not apply was acked: the durable consumer's ack floor is at or below its position.
      const floor = await ackFloorPosition("faults-disk");
      expect(floor).toBeLessThanOrEqual(s.position);

      // The operator's view.
      const table = run(["edge", "status", "--url", e.url, "-o", "table"], {});
      expect(await table.exited).toEqual({ code: 0, signal: null });
      expect(table.output()).toMatch(/APPLY/);
      expect(table.output()).toMatch(/FAILING since \S+: disk full: /);
      console.log(`chamicore edge status, disk full:\n${table.output()}`);

      stopWriting = true;
      await writers.finished;
      expect(refused).toEqual([]);
      const head = await feedHead();

      // Restarted while the disk is still full (an operator's first reflex): it stops cleanly,
      // comes back up, serves the same answers and still says why it is not moving.
      e.child.kill("SIGTERM");
      expect(await e.exited).toEqual({ code: 0, signal: null });
      const restarting = Date.now();
      e = await startEdge(env);
      const restartMs = Date.now() - restarting;
      expect((await fetch(`${e.url}/readiness`)).status).toBe(200);
      const afterRestart = await answersOf(e.url);
      expect(afterRestart).toEqual(served);
      // Its first attempt to catch up fails the same way.
      const again = await eventually(
        "the failure reported again",
        () => status(e.url),
        (x) => !x.apply.ok,
        15_000,
      );
      expect(again.apply).toMatchObject({ ok: false, reason: "disk-full" });
      expect(again.position).toBe(s.position);

      // Space returns: it catches up from its position, without a snapshot.
      rmSync(filler);
      const freed = Date.now();
      await eventually(
        "the edge caught up after space returned",
        () => status(e.url),
        (x) => x.apply.ok && x.position >= head,
        60_000,
      );
      const caughtUp = Date.now();
      expect(await metric(e.url, "chamicore_edge_snapshots_total")).toBe(0);
      expect(await metric(e.url, "chamicore_edge_apply_failing")).toBe(0);
      expect(e.output()).toContain("replica takes changes again");
      expect(e.output()).not.toContain("replica rebuilt from a snapshot");
      const late = await Promise.all(created.slice(-20).map((i) => script(e.url, mac(6, i))));
      expect(late.every((a) => a.status === 200 && a.kind === "boot")).toBe(true);
      const missing = (await Promise.all(created.map((i) => script(e.url, mac(6, i))))).filter(
        (a) => a.kind !== "boot",
      ).length;
      expect(missing).toBe(0);
      await expectReplicaEqualsSnapshot(e, dir);

      console.log(
        `edge fault: ${JSON.stringify({
          fault: "edge disk full",
          fillerBytes,
          changesAcknowledged: acked,
          changesAcknowledgedWhileFailing: acked - ackedAtFailure,
          eventsBehindWhenSpaceReturned: head - s.position,
          bootAnswersWhileFailing: during.length + afterRestart.length,
          bootAnswersFailed: [...during, ...afterRestart].filter((a) => a.status !== 200).length,
          restartWhileFullMs: restartMs,
          lost: missing,
          snapshotsAfterFirst: 0,
          catchUpAfterSpaceReturnedMs: caughtUp - freed,
        })}`,
      );
    },
  );

  it.skipIf(!canMount)(
    "started on a full disk: serves what its replica holds, says why, and catches up once space returns",
    { timeout: 90_000 },
    async () => {
      const mnt = tmpfs("16m");
      const dir = join(mnt, "edge");
      const env = edgeEnv("faults-full-start", dir);
      let e = await readyEdge(env);
      const served = await answersOf(e.url);
      e.child.kill("SIGTERM");
      expect(await e.exited).toEqual({ code: 0, signal: null });

      // Stopped cleanly (its WAL and index files are gone), then the disk fills: no room to recreate them.
      const filler = join(mnt, "filler");
      fill(filler);
      const restarting = Date.now();
      e = await startEdge(env);
      const startMs = Date.now() - restarting;
      expect(e.output()).toContain("opening it for this process alone");
      expect((await fetch(`${e.url}/readiness`)).status).toBe(200);
      expect(await answersOf(e.url)).toEqual(served);
      expect((await status(e.url)).apply).toMatchObject({ ok: false, reason: "disk-full" });

      // A change it cannot write: it tries, fails, and keeps serving.
      const from = (await status(e.url)).position;
      expect(
        (
          await api("POST", C, {
            id: "x7000c0s0b0n0",
            role: "Compute",
            interfaces: [{ macAddress: mac(7, 0) }],
          })
        ).status,
      ).toBe(201);
      await eventually(
        "a failed write",
        () => metric(e.url, 'chamicore_edge_apply_errors_total{reason="disk-full"}'),
        (n) => (n ?? 0) >= 2,
        30_000,
      );
      expect((await status(e.url)).position).toBe(from);
      expect(await answersOf(e.url)).toEqual(served);

      rmSync(filler);
      const freed = Date.now();
      const head = await feedHead();
      await eventually(
        "caught up",
        () => status(e.url),
        (x) => x.apply.ok && x.position >= head,
        30_000,
      );
      const caughtUp = Date.now();
      expect((await script(e.url, mac(7, 0))).kind).toBe("boot");
      expect(await metric(e.url, "chamicore_edge_snapshots_total")).toBe(0);
      await expectReplicaEqualsSnapshot(e, dir);
      console.log(
        `edge fault: ${JSON.stringify({
          fault: "edge started on a full disk",
          startMs,
          lost: 0,
          catchUpAfterSpaceReturnedMs: caughtUp - freed,
        })}`,
      );
    },
  );
});

/** A tmpfs of `size` on a new directory, unmounted after the file. */
function tmpfs(size: string): string {
  const mnt = mkdtempSync(join(tmpdir(), "chamicore-edge-tmpfs-"));
  execFileSync("mount", ["-t", "tmpfs", "-o", `size=${size}`, "tmpfs", mnt]);
  cleanup.push(() => {
    // Lazily: an edge killed a moment ago may still hold its files.
    execFileSync("umount", ["-l", mnt]);
    rmSync(mnt, { recursive: true, force: true });
  });
  return mnt;
}

/** Writes zeros into `path` until the file system has no space left; returns how many bytes. */
function fill(path: string): number {
  const fd = openSync(path, "w");
  let total = 0;
  try {
    for (const size of [1 << 20, 4096, 512]) {
      const chunk = Buffer.alloc(size);
      for (;;) {
        try {
          const n = writeSync(fd, chunk);
          total += n;
          if (n < size) break;
        } catch (e) {
          if ((e as NodeJS.ErrnoException).code === "ENOSPC") break;
          throw e;
        }
      }
    }
  } finally {
    closeSync(fd);
  }
  return total;
}

/** How many messages the run's event stream holds. */
async function streamMessages(): Promise<number> {
  const nc = await connect({ servers: nats.url });
  try {
    return (await (await jetstreamManager(nc)).streams.info(stream)).state.messages;
  } finally {
    await nc.close();
  }
}

/** The position of the last event the durable consumer `name` has acked (0: none). */
async function ackFloorPosition(name: string): Promise<number> {
  const nc = await connect({ servers: nats.url });
  try {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.consumers.info(stream, name);
    const seq = info.ack_floor.stream_seq;
    if (seq === 0) return 0;
    const m = await jsm.streams.getMessage(stream, { seq });
    if (!m) throw new Error(`the stream has no message ${seq}`);
    return (m.json() as { position: number }).position;
  } finally {
    await nc.close();
  }
}
