/**
 * Keeps the edge's replica in step with the control plane.
 *
 * The change feed (`/events/v1/changes`) is the authority; NATS JetStream is
 * the fast path. On start the edge takes a snapshot if it has never synced,
 * then catches up from the feed, then follows the stream with a durable
 * consumer named after the edge. Each event is applied in one SQLite
 * transaction that also records the position, and acked only after that
 * commit. An event that skips ahead of the replica's position sends the edge
 * back to the feed to fill the gap first; a feed that has pruned the needed
 * history (410) means a fresh snapshot, never silent divergence. With NATS
 * unreachable the edge polls the feed and retries NATS with backoff; with
 * everything unreachable it keeps serving what it has. A replica that cannot
 * write (disk full, I/O error) acks nothing it did not commit, says so
 * (apply-state.ts), retries every few seconds and then resumes from its
 * recorded position: the feed still holds what it missed, so no snapshot.
 *
 * A stream can also go quiet without failing: the stream deleted, left
 * without a leader, or the durable consumer deleted, while the control plane
 * keeps writing. So the edge tracks the control plane's head (from each
 * event, and from a cheap head probe of the feed while nothing arrives) and
 * calls the stream stalled once the head has been ahead of the replica for
 * `stallMs` with nothing applied: it then catches up from the feed at once,
 * polls, and recreates its consumer when the stream answers again. The stall
 * and its reason show on /status and /metrics until the stream delivers.
 */

import { rmSync } from "node:fs";
import { join } from "node:path";
import {
  AckPolicy,
  type ConsumerMessages,
  DeliverPolicy,
  type JetStreamManager,
  jetstream,
  jetstreamManager,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Backoff, backoffDelay } from "../shared/backoff";
import type { ChangeEvent } from "../shared/events";
import type { Logger } from "../shared/log";
import { Counter, Gauge, type Registry } from "../shared/metrics";
import { Sleeper } from "../shared/sleeper";
import { forCarried, traceparentOf } from "../shared/tracing";
import { ApplyFailed, ApplyState, applyFailureOf } from "./apply-state";
import { type ControlClient, SnapshotNeeded } from "./control-client";
import type { Replica } from "./replica/replica";

/** How the replica's feed shows while this follows the control plane. */
const LIVE = { by: "live" } as const;

/** Where a snapshot is spooled while it is taken, beside replica.db. */
const SNAPSHOT_SPOOL = "snapshot.json.part";

/** Longest wait between attempts to write to a replica whose disk failed: catch-up starts soon after it is fixed. */
const LOCAL_RETRY_MAX_MS = 5000;
/** Wait between attempts to apply an event this edge does not understand (only an upgrade helps). */
const REFUSED_RETRY_MS = 60_000;
/** Longest wait for NATS to say why the stream stalled (a leaderless stream answers nothing). */
const DIAGNOSE_TIMEOUT_MS = 2000;
/** At most this long for each readiness probe while the control plane is unreachable. */
const PROBE_TIMEOUT_MS = 2000;

/** Why the stream stopped carrying the control plane's changes to this edge. */
export type StallReason =
  | "nats-unreachable"
  | "stream-gone"
  | "consumer-deleted"
  /** The consumer exists but delivers nothing (a stream without a leader, or stuck). */
  | "stream-silent"
  | "stream-unavailable";

export interface Stall {
  since: string;
  reason: StallReason;
  detail: string;
}

/** Thrown out of `follow` when the stream has stopped delivering. */
class StreamStalled extends Error {
  constructor(
    readonly reason: StallReason,
    message: string,
  ) {
    super(message);
  }
}

/** The reason a NATS or JetStream failure stands for. */
function stallOf(e: unknown): { reason: StallReason; detail: string } {
  if (e instanceof StreamStalled) return { reason: e.reason, detail: e.message };
  const detail = e instanceof Error ? e.message : String(e);
  if (/stream not found/i.test(detail)) return { reason: "stream-gone", detail };
  if (/consumer (not found|deleted)/i.test(detail)) return { reason: "consumer-deleted", detail };
  if (/refused|reset|closed|disconnect|connection|ECONN|timeout/i.test(detail))
    return { reason: "nats-unreachable", detail };
  return { reason: "stream-unavailable", detail };
}

export interface SyncOptions {
  replica: Replica;
  /** None: the edge is fed by bundles alone (docs/air-gapped.md), and this follows nothing. */
  control: ControlClient | undefined;
  logger: Logger;
  registry: Registry;
  /** The durable consumer's name (CHAMICORE_EDGE_NAME). */
  name: string;
  nats: { servers: string; stream: string; subjectPrefix: string } | undefined;
  pollMs: number;
  /** Behind the head this long with nothing applied: the stream is stalled (CHAMICORE_EDGE_STALL_SECONDS). */
  stallMs?: number;
  /** Called after the replica changed (events applied or a snapshot taken). */
  onChange?: (traces?: string[]) => void;
  /** The replica could not be opened as usual (its disk): reported until a write succeeds. */
  openFailure?: ApplyFailed;
}

/** `bundle`: no control plane is configured; the replica changes only by `chamicore edge import`. */
export type FeedMode = "stream" | "poll" | "starting" | "bundle";

export class EdgeSync {
  mode: FeedMode = "starting";
  lastContact: Date | undefined;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private nc: NatsConnection | undefined;
  private messages: ConsumerMessages | undefined;
  private readonly sleeper = new Sleeper();
  private head = 0;
  private lastEventTime: number | undefined;
  /** When the edge last saw itself behind the head after being caught up; undefined while caught up. */
  private behindSince: number | undefined;
  /**
   * When the position last moved, or when the edge was last known to be caught up before it fell
   * behind (the write it missed came after that, not when the next probe noticed): the stall
   * clock starts here.
   */
  private progressAt = Date.now();
  private caughtUpAt = Date.now();
  private stall: Stall | undefined;
  /** After a stall the durable consumer is replaced: it may be bound to a stream that is gone. */
  private recreateConsumer = false;
  private readonly natsBackoff = new Backoff();
  private readonly stallMs: number;
  private readonly applyState: ApplyState;
  private readonly m;

  constructor(private readonly o: SyncOptions) {
    const r = o.registry;
    this.m = {
      position: r.register(
        new Gauge("chamicore_edge_applied_position", "Outbox position applied to the replica."),
      ),
      lagEvents: r.register(
        new Gauge("chamicore_edge_lag_events", "Events known at the control plane not yet applied."),
      ),
      lagSeconds: r.register(
        new Gauge(
          "chamicore_edge_lag_seconds",
          "Age of the last applied event while behind; 0 when caught up.",
        ),
      ),
      lastContact: r.register(
        new Gauge(
          "chamicore_edge_last_contact_timestamp_seconds",
          "Last successful exchange with the control plane or NATS.",
        ),
      ),
      mode: r.register(
        new Gauge("chamicore_edge_feed_mode", "1 for the mode in use: stream (NATS) or poll (change feed)."),
      ),
      snapshots: r.register(
        new Counter(
          "chamicore_edge_snapshots_total",
          "Snapshots taken (first sync, pruned history, --resync).",
        ),
      ),
      applied: r.register(
        new Counter("chamicore_edge_events_applied_total", "Events applied to the replica, by source."),
      ),
      head: r.register(
        new Gauge(
          "chamicore_edge_head_position",
          "The control plane's outbox head as last seen by the edge.",
        ),
      ),
      stalled: r.register(
        new Gauge(
          "chamicore_edge_stream_stalled",
          "1 while the stream does not deliver (the edge polls the change feed instead).",
        ),
      ),
      stalls: r.register(
        new Counter("chamicore_edge_stream_stalls_total", "Times the stream stopped delivering, by reason."),
      ),
    };
    this.stallMs = o.stallMs ?? 5000;
    this.m.stalled.set(0);
    this.applyState = new ApplyState(r, o.logger);
    if (o.openFailure) this.applyState.failed(o.openFailure);
    this.m.position.set(o.replica.position());
    // Present from the start, so "no snapshot yet" reads as 0 rather than as a missing series.
    this.m.snapshots.inc({}, 0);
  }

  /** True once the replica holds a snapshot (now or from an earlier run). */
  get ready(): boolean {
    return this.o.replica.status().snapshotAt !== null;
  }

  /** Set whenever the loop runs: `start` runs none without one. */
  private get control(): ControlClient {
    return this.o.control!;
  }

  start(): void {
    if (!this.o.control) {
      this.setMode("bundle");
      return;
    }
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.sleeper.wake();
    // The connection first, which ends the subscription too: closing a subscription whose
    // first pull is still out waits for that pull to expire (a stop right after the start hung
    // until the supervisor's SIGKILL). An event applied and not yet acked comes again at the
    // next start, and is skipped by its position.
    await this.nc?.close().catch(() => {});
    await this.loop;
  }

  status() {
    const replica = this.o.replica.status();
    return {
      ...replica,
      mode: this.mode,
      head: Math.max(this.head, replica.position),
      lagEvents: Math.max(0, this.head - replica.position),
      lagSeconds: this.lagSeconds(),
      lastContact: this.lastContact?.toISOString() ?? null,
      stalled: this.stall ?? null,
      apply: this.applyState.status(),
    };
  }

  /**
   * Runs a write to the replica (or the snapshot spool): a failure of the
   * replica's own (SQLite, its disk, an event it refuses) is recorded and
   * thrown as ApplyFailed; anything else (the network) passes through.
   */
  private write<T>(f: () => T): T {
    let out: T;
    try {
      out = f();
    } catch (e) {
      throw this.failedWrite(e);
    }
    this.applyState.succeeded();
    return out;
  }

  private failedWrite(e: unknown): unknown {
    const failed = applyFailureOf(e, this.o.replica.dataDir);
    if (!failed) return e;
    this.applyState.failed(failed);
    return failed;
  }

  private setMode(mode: FeedMode) {
    if (mode !== this.mode) this.o.logger.info("edge feed mode", { mode });
    this.mode = mode;
    this.m.mode.set(mode === "stream" ? 1 : 0, { mode: "stream" });
    this.m.mode.set(mode === "poll" ? 1 : 0, { mode: "poll" });
  }

  private contact() {
    this.lastContact = new Date();
    this.m.lastContact.set(Math.floor(this.lastContact.getTime() / 1000));
  }

  private observe() {
    const pos = this.o.replica.position();
    this.m.position.set(pos);
    this.m.head.set(Math.max(this.head, pos));
    const behind = Math.max(0, this.head - pos);
    if (behind === 0) {
      this.behindSince = undefined;
      this.caughtUpAt = Date.now();
    } else if (this.behindSince === undefined) {
      this.behindSince = Date.now();
      this.progressAt = Math.max(this.progressAt, this.caughtUpAt);
    }
    this.m.lagEvents.set(behind);
    this.m.lagSeconds.set(this.lagSeconds());
  }

  /**
   * Seconds behind: since the last applied event's time or since the edge
   * learnt it was behind, whichever is later (an edge idle for an hour is
   * not an hour late for the write that just came); 0 when caught up.
   */
  private lagSeconds(): number {
    if (this.behindSince === undefined) return 0;
    const from = Math.max(this.behindSince, this.lastEventTime ?? 0);
    return Math.max(0, (Date.now() - from) / 1000);
  }

  /** Behind the head with nothing applied for `stallMs`. */
  private stuck(): boolean {
    return this.behindSince !== undefined && Date.now() - this.progressAt >= this.stallMs;
  }

  private markStalled(s: { reason: StallReason; detail: string }) {
    if (this.stall) {
      // Still stalled, perhaps for another reason now (NATS back, the stream not yet): the latest shows.
      this.stall = { ...this.stall, ...s };
      return;
    }
    this.stall = { since: new Date().toISOString(), ...s };
    this.m.stalled.set(1);
    this.m.stalls.inc({ reason: s.reason });
    this.o.logger.warn("NATS stream stalled; following the change feed", {
      reason: s.reason,
      err: s.detail,
      position: this.o.replica.position(),
      head: this.head,
    });
  }

  private clearStall(why: string) {
    this.natsBackoff.reset();
    if (!this.stall) return;
    this.o.logger.info("NATS stream delivers again", { why, stalledSince: this.stall.since });
    this.stall = undefined;
    this.m.stalled.set(0);
  }

  /** Asks the feed for the head alone; a failure is not the stream's and is left to the next try. */
  private async probeHead() {
    try {
      const page = await this.control.changes(this.o.replica.position(), 0);
      this.contact();
      this.head = Math.max(this.head, page.head);
    } catch {
      // The control plane unreachable says nothing about the stream.
    }
    this.observe();
  }

  private apply(events: ChangeEvent[], source: "stream" | "feed", controlPlane?: string) {
    const before = this.o.replica.position();
    // A traced change's trace goes on here, on every edge that applies it (and to its Kea write).
    let traces: string[] = [];
    const n = forCarried(
      events,
      "chamicore.edge.apply",
      (e) => ({
        "chamicore.position": e.position,
        "chamicore.event.type": e.type,
        "chamicore.feed.source": source,
      }),
      (spans) => {
        traces = spans.map(traceparentOf).filter((t): t is string => t !== undefined);
        return this.write(() =>
          this.o.replica.applyEvents(events, controlPlane ? { ...LIVE, source: controlPlane } : LIVE),
        );
      },
    );
    if (this.o.replica.position() > before) this.progressAt = Date.now();
    if (n > 0) {
      this.m.applied.inc({ source }, n);
      this.o.onChange?.(traces);
    }
    const last = events.at(-1);
    if (last) this.lastEventTime = Date.parse(last.time);
    this.head = Math.max(this.head, last?.position ?? 0);
    this.observe();
  }

  private async takeSnapshot(why: string) {
    const spool = join(this.o.replica.dataDir, SNAPSHOT_SPOOL);
    const s = await this.control.snapshot(spool).catch((e) => {
      rmSync(spool, { force: true });
      // A spool that does not fit on the disk is the replica's failure, not the network's.
      throw this.failedWrite(e);
    });
    this.contact();
    try {
      this.write(() => this.o.replica.applySnapshot(s, LIVE));
    } finally {
      s.close();
      rmSync(spool, { force: true });
    }
    this.o.onChange?.();
    this.m.snapshots.inc();
    const position = this.o.replica.position();
    this.head = Math.max(this.head, position);
    this.observe();
    this.o.logger.info("replica rebuilt from a snapshot", { why, position });
  }

  /** Pages through the feed until caught up. */
  private async catchUp() {
    for (;;) {
      let page: Awaited<ReturnType<ControlClient["changes"]>>;
      try {
        page = await this.control.changes(this.o.replica.position());
      } catch (e) {
        if (!(e instanceof SnapshotNeeded)) throw e;
        await this.takeSnapshot(e.message);
        continue;
      }
      this.contact();
      const mine = this.o.replica.source();
      if (page.source && mine && page.source !== mine) {
        // Fed by another control plane (a bundle from elsewhere, or this one's database rebuilt
        // under a new id): positions of the two say nothing about each other.
        await this.takeSnapshot(
          `the control plane is ${page.source}, the replica came from ${mine}: rebuilding it from this one`,
        );
        continue;
      }
      if (page.head < this.o.replica.position()) {
        // The control plane's history is behind the replica: its database was rebuilt or restored.
        await this.takeSnapshot(
          `control plane head ${page.head} is behind the replica (${this.o.replica.position()})`,
        );
        continue;
      }
      this.head = page.head;
      // Before applying: a replica that cannot write still shows how far behind it is.
      this.observe();
      if (page.events.length > 0) this.apply(page.events, "feed", page.source);
      if (page.events.length === 0 || page.next >= page.head) return;
    }
  }

  private async run() {
    let nextNatsTry = 0;
    let failures = 0;
    while (!this.stopped) {
      try {
        if (!this.ready) await this.takeSnapshot("first start");
        await this.catchUp();
        failures = 0;
        // A stop during the snapshot or the catch-up: no subscription is started for it to wait on.
        if (this.stopped) break;
        if (this.o.nats && Date.now() >= nextNatsTry) {
          try {
            await this.follow(this.o.nats);
          } catch (e) {
            if (this.stopped) break;
            // The replica's own failure: NATS is fine, its backoff stays as it is.
            if (e instanceof ApplyFailed) throw e;
            this.markStalled(stallOf(e));
            this.recreateConsumer = true;
            nextNatsTry = Date.now() + this.natsBackoff.fail();
            // Catch up from the feed at once, not a poll later.
            this.setMode("poll");
            continue;
          }
        }
        if (this.stopped) break;
        this.setMode("poll");
        await this.sleeper.sleep(this.o.pollMs);
      } catch (e) {
        if (e instanceof ApplyFailed) {
          // Keep serving what the replica has (ApplyState logged it). Nothing of the failed batch
          // was committed or acked; the next attempt starts again from the recorded position.
          const attempts = this.applyState.status().attempts;
          this.setMode("poll");
          await this.sleeper.sleep(
            e.local
              ? backoffDelay(attempts, { firstMs: this.o.pollMs, maxMs: LOCAL_RETRY_MAX_MS })
              : REFUSED_RETRY_MS,
          );
          continue;
        }
        // Control plane unreachable (and NATS not usable): keep serving, probe until it answers.
        failures++;
        if (failures === 1)
          this.o.logger.warn("control plane unreachable; serving from the replica", {
            err: (e as Error).message,
          });
        this.setMode("poll");
        await this.untilReady();
      }
    }
  }

  /**
   * While the control plane does not answer: a readiness probe every poll
   * interval, so that a returning control plane is followed within one
   * poll, not after a backoff grown long during the outage. Each probe gets
   * a short time of its own: an uplink that drops packets would hold a feed
   * request for its whole timeout. A probe costs the control plane one
   * request per edge per poll, no more than polling the feed does.
   */
  private async untilReady() {
    const timeout = Math.min(PROBE_TIMEOUT_MS, Math.max(this.o.pollMs, 500));
    do await this.sleeper.sleep(this.o.pollMs);
    while (!this.stopped && !(await this.control.ready(timeout)));
  }

  /** Follows the stream until it fails (throws) or the edge stops. */
  private async follow(nats: NonNullable<SyncOptions["nats"]>) {
    this.nc = await connect({
      servers: nats.servers.split(",").map((s) => s.trim()),
      name: `chamicore-edge-${this.o.name}`,
      reconnect: false,
      timeout: 5000,
    });
    try {
      if (this.stopped) return;
      const jsm = await jetstreamManager(this.nc);
      if (this.recreateConsumer) {
        // It may belong to a stream since deleted and recreated, or hold deliveries that never
        // came: a new one from a minute back, after the catch-up that ran just before.
        await jsm.consumers.delete(nats.stream, this.o.name).catch(() => {});
        this.recreateConsumer = false;
      }
      await jsm.consumers.info(nats.stream, this.o.name).catch(async () => {
        // A new (or lost) consumer starts a minute before now: what it repeats is skipped by
        // position, and the feed catch-up above covered everything older.
        await jsm.consumers.add(nats.stream, {
          durable_name: this.o.name,
          ack_policy: AckPolicy.Explicit,
          deliver_policy: DeliverPolicy.StartTime,
          opt_start_time: new Date(Date.now() - 60_000).toISOString(),
          filter_subject: `${nats.subjectPrefix}.>`,
          ack_wait: nanos(30_000),
        });
        this.o.logger.info("created durable consumer", { stream: nats.stream, consumer: this.o.name });
      });
      if (this.stopped) return;
      const consumer = await jetstream(this.nc).consumers.get(nats.stream, this.o.name);
      this.messages = await consumer.consume({ max_messages: 256 });
      // A stop that came while the subscription was being made found nothing to close.
      if (this.stopped) return;
      this.setMode("stream");
      this.contact();
      const closed = this.nc.closed();
      const watch = this.watch(jsm, nats.stream);
      try {
        await this.consume(this.messages);
      } finally {
        watch.end();
      }
      const stalled = await watch.stalled;
      if (this.stopped) return;
      if (stalled) throw stalled;
      if (this.nc.isClosed()) throw (await closed) ?? new Error("NATS connection closed");
      // The consumer ended with the connection still up: ask NATS why.
      throw await this.diagnose(jsm, nats.stream, "the consumer ended");
    } finally {
      // Stopping: the connection goes first, which ends the subscription too (closing a
      // subscription whose first pull is still out waits for it).
      if (this.stopped) await this.nc?.close().catch(() => {});
      await this.messages?.close().catch(() => {});
      this.messages = undefined;
      await this.nc?.close().catch(() => {});
      this.nc = undefined;
    }
  }

  /** Applies and acks what the consumer delivers until it ends. */
  private async consume(messages: ConsumerMessages) {
    for await (const msg of messages) {
      const event = msg.json<ChangeEvent>();
      if (event.position > this.o.replica.position() + 1) {
        // Something came before this that the replica has not seen: the feed fills the gap
        // (or says a snapshot is needed). Positions also skip after rolled-back writes; then
        // the feed simply has nothing more.
        await this.catchUp().catch((e) => {
          if (e instanceof ApplyFailed) throw e;
          this.o.logger.warn("could not fill a gap from the feed; applying the stream in order", {
            err: (e as Error).message,
          });
        });
      }
      this.apply([event], "stream");
      this.head = Math.max(this.head, event.position + msg.info.pending);
      this.observe();
      msg.ack();
      this.contact();
      this.clearStall("an event arrived on the stream");
      if (this.stopped) break;
    }
  }

  /**
   * While the consumer runs: probes the feed's head when the stream has
   * been quiet for a tick, and closes the consumer (ending `consume`) once
   * the edge is stuck behind the head; `stalled` then holds why.
   */
  private watch(jsm: JetStreamManager, stream: string) {
    const sleeper = new Sleeper();
    let ended = false;
    const tick = Math.max(100, Math.min(this.o.pollMs, this.stallMs / 2));
    const stalled = (async (): Promise<StreamStalled | undefined> => {
      while (!ended && !this.stopped) {
        await sleeper.sleep(tick);
        if (ended || this.stopped) return undefined;
        if (Date.now() - (this.lastContact?.getTime() ?? 0) >= tick) await this.probeHead();
        if (ended || this.stopped) return undefined;
        // Caught up with the stream in place: whatever stalled it is over.
        if (this.behindSince === undefined) this.clearStall("caught up on the stream");
        if (!this.stuck()) continue;
        const why = await this.diagnose(
          jsm,
          stream,
          `head ${this.head} ahead of position ${this.o.replica.position()} with nothing applied for ${Math.round((Date.now() - this.progressAt) / 1000)} s`,
        );
        await this.messages?.close().catch(() => {});
        return why;
      }
      return undefined;
    })();
    return {
      stalled,
      end: () => {
        ended = true;
        sleeper.wake();
      },
    };
  }

  /** Why the stream does not deliver, as far as NATS can say within a moment. */
  private async diagnose(jsm: JetStreamManager, stream: string, what: string): Promise<StreamStalled> {
    if (!this.nc || this.nc.isClosed())
      return new StreamStalled("nats-unreachable", `${what}; the connection to NATS closed`);
    let timer: ReturnType<typeof setTimeout> | undefined;
    try {
      await Promise.race([
        jsm.consumers.info(stream, this.o.name),
        new Promise((_, reject) => {
          timer = setTimeout(() => reject(new Error("no answer from JetStream")), DIAGNOSE_TIMEOUT_MS);
        }),
      ]);
      return new StreamStalled(
        "stream-silent",
        `${what}; consumer ${this.o.name} exists but delivers nothing`,
      );
    } catch (e) {
      const { reason, detail } = stallOf(e);
      return new StreamStalled(
        reason === "nats-unreachable" ? "stream-unavailable" : reason,
        `${what}; ${detail}`,
      );
    } finally {
      clearTimeout(timer);
    }
  }
}
