/**
 * An edge whose stream goes quiet while the control plane moves on, with
 * real processes: `chamicore serve` on Postgres, a private nats-server with
 * JetStream, and one `chamicore edge` following its stream.
 *
 * Three ways the stream stops delivering while writes continue: the edge's
 * durable consumer deleted, the stream deleted (the relay recreates it on
 * its next publish), and NATS killed (restarted later). In each the edge
 * reaches the feed's head within CHAMICORE_EDGE_STALL_SECONDS plus one poll,
 * serves every acknowledged node, says `stalled` (with the reason) while it
 * is, and goes back to the stream once it delivers, without a snapshot.
 * Each case prints how long the edge took to reach the head.
 */
import { jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type Api,
  cleanupAfterAll,
  createEdgeAccount,
  edgeDataDir,
  edgeEnv,
  startControlPlane,
  startEdge,
} from "../support/edge-site";
import { eventually, type PrivateNats, uniqueStream } from "../support/nats";
import { type Proc, run } from "../support/process";

const C = "/hsm/v2/State/Components";
const STALL_S = 2;
const POLL_S = 0.5;
/** What a loaded 2-core machine adds to a bound: process scheduling and HTTP round trips. */
const SLACK_MS = 2500;
const EDGE = "liveness";

const cleanup = cleanupAfterAll();

let nats: PrivateNats;
let e: Proc & { url: string };
let api: Api;
const { stream, prefix } = uniqueStream("liveness");

/** The feed's head, by the probe the edge itself uses (`limit=0`). */
async function feedHead(): Promise<number> {
  const r = await api("GET", "/events/v1/changes?after=0&limit=0");
  expect(r.status).toBe(200);
  expect(r.json.items).toEqual([]);
  return r.json.metadata.head;
}

interface EdgeStatus {
  position: number;
  head: number;
  mode: string;
  lagEvents: number;
  lagSeconds: number;
  stalled: { since: string; reason: string; detail: string } | null;
}
const status = async () => (await (await fetch(`${e.url}/status`)).json()) as EdgeStatus;

/** Sum of every series of a metric (all label sets), or undefined when absent. */
const metric = async (name: string) => {
  const text = await (await fetch(`${e.url}/metrics`)).text();
  const lines = text.split("\n").filter((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
  return lines.length ? lines.reduce((n, l) => n + Number(l.split(" ").at(-1)), 0) : undefined;
};

const mac = (block: number, i: number) =>
  `02:00:00:${block.toString(16).padStart(2, "0")}:${(i >> 8).toString(16).padStart(2, "0")}:${(i & 255).toString(16).padStart(2, "0")}`;

/** Creates node `i` of `block`; true when acknowledged. */
async function createNode(block: number, i: number): Promise<boolean> {
  const r = await api("POST", C, {
    id: `x${block}c0s${i}b0n0`,
    role: "Compute",
    interfaces: [{ macAddress: mac(block, i) }],
  });
  if (r.status !== 201) throw new Error(`create refused: ${r.status} ${r.text.slice(0, 200)}`);
  return true;
}

/** Samples /status every 100 ms until stopped: what the edge said, and when. */
function watchStatus() {
  const samples: (EdgeStatus & { t: number })[] = [];
  let on = true;
  const done = (async () => {
    while (on) {
      try {
        samples.push({ ...(await status()), t: Date.now() });
      } catch {}
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  return {
    samples,
    stop: async () => {
      on = false;
      await done;
    },
  };
}

async function nonBooting(block: number, count: number): Promise<string[]> {
  const answers = await Promise.all(
    Array.from({ length: count }, async (_, i) => {
      const r = await fetch(`${e.url}/boot/v1/bootscript?mac=${mac(block, i)}`);
      await r.text();
      return { i, status: r.status, kind: r.headers.get("x-chamicore-boot") };
    }),
  );
  return answers
    .filter((a) => a.status !== 200 || a.kind !== "boot")
    .map((a) => `${a.i}: ${a.status} ${a.kind}`);
}

async function withJsm<T>(f: (jsm: Awaited<ReturnType<typeof jetstreamManager>>) => Promise<T>) {
  const nc = await connect({ servers: nats.url, reconnect: false, timeout: 2000 });
  try {
    return await f(await jetstreamManager(nc));
  } finally {
    await nc.close();
  }
}

/** Position of the last event the stream holds (0: none, or no stream). */
const streamHead = () =>
  withJsm(async (jsm) => {
    const info = await jsm.streams.info(stream).catch(() => undefined);
    if (!info || info.state.messages === 0) return 0;
    const m = await jsm.streams.getMessage(stream, { seq: info.state.last_seq });
    return m ? (m.json() as { position: number }).position : 0;
  }).catch(() => 0);

beforeAll(async () => {
  const site = await startControlPlane(cleanup, { database: "edge_liveness", stream, prefix });
  ({ nats, api } = site);
  const creds = await createEdgeAccount(api, "edge-liveness");
  await api("POST", "/boot/v1/bootparams", { isDefault: true, kernelUri: "http://images/default-vmlinuz" });
  e = await startEdge(
    cleanup,
    edgeEnv(site, creds, edgeDataDir(cleanup, "edge-liveness"), {
      CHAMICORE_EDGE_NAME: EDGE,
      CHAMICORE_EDGE_POLL_SECONDS: String(POLL_S),
      CHAMICORE_EDGE_STALL_SECONDS: String(STALL_S),
    }),
  );
  await createNode(1, 0);
  const head = await feedHead();
  await eventually(
    "the edge caught up and on the stream",
    status,
    (s) => s.position >= head && s.mode === "stream" && !s.stalled,
    30_000,
  );
}, 90_000);

const reports: Record<string, unknown>[] = [];
afterAll(() => {
  for (const r of reports) console.log(`edge liveness: ${JSON.stringify(r)}`);
});

interface Fault {
  name: string;
  block: number;
  reasons: string[];
  /** The stall lasts until `repair`: long enough to ask `chamicore edge status` about it. */
  lasting: boolean;
  /** Stops the stream delivering. */
  break(): Promise<void>;
  /** Lets it deliver again (nothing when the system repairs itself). */
  repair(): Promise<void>;
}

const faults: Fault[] = [
  {
    name: "consumer deleted",
    block: 2,
    reasons: ["consumer-deleted"],
    lasting: false,
    break: () => withJsm(async (jsm) => void (await jsm.consumers.delete(stream, EDGE))),
    repair: async () => {},
  },
  {
    name: "stream deleted",
    block: 3,
    // The relay recreates the stream at its next publish: NATS may then answer either.
    reasons: ["stream-gone", "consumer-deleted"],
    lasting: false,
    break: () => withJsm(async (jsm) => void (await jsm.streams.delete(stream))),
    repair: async () => {},
  },
  {
    name: "NATS killed",
    block: 4,
    reasons: ["nats-unreachable"],
    lasting: true,
    break: () => nats.stop(),
    repair: () => nats.start(),
  },
];

describe("an edge whose stream stops delivering while the control plane moves on", () => {
  for (const fault of faults)
    it(`${fault.name}: catches up from the feed within the stall bound, says so, returns to the stream`, {
      timeout: 60_000,
    }, async () => {
      const before = await status();
      expect(before.mode).toBe("stream");
      expect(before.stalled ?? null).toBeNull();
      const snapshotsBefore = await metric("chamicore_edge_snapshots_total");
      const watch = watchStatus();

      await fault.break();
      const broken = Date.now();
      // Writes go on: the first, then one every 200 ms for 3 s (longer than the stall bound).
      const N = 16;
      await createNode(fault.block, 0);
      const firstAcked = Date.now();
      const firstPosition = await feedHead();
      for (let i = 1; i < N; i++) {
        await new Promise((r) => setTimeout(r, 200));
        await createNode(fault.block, i);
      }
      const lastAcked = Date.now();
      const head = await feedHead();
      const atHead = await eventually(
        "the edge at the feed's head",
        status,
        (s) => s.position >= head,
        20_000,
      );
      const reachedHead = Date.now();
      await watch.stop();

      // The bound: the stall bound plus one poll from the first write it missed.
      const firstApplied = watch.samples.find((s) => s.position >= firstPosition)?.t ?? reachedHead;
      const firstWriteToEdgeMs = firstApplied - firstAcked;
      expect(firstWriteToEdgeMs).toBeLessThanOrEqual((STALL_S + POLL_S) * 1000 + SLACK_MS);
      expect(reachedHead - lastAcked).toBeLessThanOrEqual((STALL_S + POLL_S) * 1000 + SLACK_MS);
      expect(await nonBooting(fault.block, N)).toEqual([]);

      // It said so while it was.
      const stalled = watch.samples.find((s) => s.stalled !== null);
      expect(stalled, "a status saying stalled").toBeDefined();
      expect(fault.reasons).toContain(stalled!.stalled!.reason);
      expect(stalled!.stalled!.detail).not.toBe("");
      expect(watch.samples.some((s) => s.mode === "poll")).toBe(true);
      if (!fault.lasting) {
        // Before it called the stall, it knew how far behind it was.
        const behind = watch.samples.find((s) => s.lagEvents > 0 && s.lagSeconds > 0);
        expect(behind, "a status saying how far behind").toBeDefined();
        expect(behind!.head).toBeGreaterThan(behind!.position);
      }
      expect(await metric("chamicore_edge_head_position")).toBeGreaterThanOrEqual(head);
      expect((await fetch(`${e.url}/readiness`)).status).toBe(200);
      if (fault.lasting) {
        // The operator's view, while it lasts.
        expect((await status()).stalled).not.toBeNull();
        const table = run(["edge", "status", "--url", e.url, "-o", "table"], {});
        expect(await table.exited).toEqual({ code: 0, signal: null });
        expect(table.output()).toMatch(/STALLED since \S+: nats-unreachable \(polling the feed\)/);
        // Not a terminal: no colour codes.
        expect(table.output()).not.toContain("\x1b[");
        console.log(`chamicore edge status, ${fault.name}:\n${table.output()}`);
      }

      // The stream back: the edge follows it again, and what comes next arrives over it.
      await fault.repair();
      const repaired = Date.now();
      await eventually(
        "the edge back on the stream",
        status,
        (s) => s.mode === "stream" && s.stalled === null,
        30_000,
      );
      const backOnStream = Date.now();
      // The relay has published what it held back: the stream is at the feed's head.
      await eventually("the stream at the feed's head", streamHead, (p) => p >= head, 30_000);
      const fromStream = (await metric('chamicore_edge_events_applied_total{source="stream"}')) ?? 0;
      await createNode(fault.block, N);
      const after = await feedHead();
      await eventually("the next write, over the stream", status, (s) => s.position >= after, 10_000);
      expect(await metric('chamicore_edge_events_applied_total{source="stream"}')).toBeGreaterThan(
        fromStream,
      );
      expect((await status()).mode).toBe("stream");
      expect(await nonBooting(fault.block, N + 1)).toEqual([]);
      expect(await metric("chamicore_edge_snapshots_total")).toBe(snapshotsBefore);
      expect(await metric("chamicore_edge_stream_stalled")).toBe(0);
      expect(await metric("chamicore_edge_stream_stalls_total")).toBeGreaterThan(0);

      reports.push({
        fault: fault.name,
        reason: stalled!.stalled!.reason,
        writesAcknowledged: N + 1,
        lost: 0,
        firstWriteToEdgeMs,
        lastWriteToHeadMs: reachedHead - lastAcked,
        faultToHeadMs: reachedHead - broken,
        stalledReportedAfterMs: stalled!.t - broken,
        lagAtHead: atHead.lagEvents,
        backOnStreamAfterRepairMs: backOnStream - repaired,
        snapshots: 0,
      });
    });
});
