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
 */

import { rmSync } from "node:fs";
import { join } from "node:path";
import {
  AckPolicy,
  type ConsumerMessages,
  DeliverPolicy,
  jetstream,
  jetstreamManager,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/nats-core";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { ChangeEvent } from "../shared/events";
import type { Logger } from "../shared/log";
import { Counter, Gauge, type Registry } from "../shared/metrics";
import { Sleeper } from "../shared/sleeper";
import { ApplyFailed, ApplyState, applyFailureOf } from "./apply-state";
import { type ControlClient, SnapshotNeeded } from "./control-client";
import type { Replica } from "./replica/replica";

/** Where a snapshot is spooled while it is taken, beside replica.db. */
const SNAPSHOT_SPOOL = "snapshot.json.part";

/** Longest wait between attempts to write to a replica whose disk failed: catch-up starts soon after it is fixed. */
const LOCAL_RETRY_MAX_MS = 5000;
/** Wait between attempts to apply an event this edge does not understand (only an upgrade helps). */
const REFUSED_RETRY_MS = 60_000;

export interface SyncOptions {
  replica: Replica;
  control: ControlClient;
  logger: Logger;
  registry: Registry;
  /** The durable consumer's name (CHAMICORE_EDGE_NAME). */
  name: string;
  nats: { servers: string; stream: string; subjectPrefix: string } | undefined;
  pollMs: number;
  /** Called after the replica changed (events applied or a snapshot taken). */
  onChange?: () => void;
  /** The replica could not be opened as usual (its disk): reported until a write succeeds. */
  openFailure?: ApplyFailed;
}

export type FeedMode = "stream" | "poll" | "starting";

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
    };
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

  start(): void {
    this.loop ??= this.run();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.sleeper.wake();
    await this.messages?.close().catch(() => {});
    await this.loop;
    await this.nc?.close().catch(() => {});
  }

  status() {
    const replica = this.o.replica.status();
    return {
      ...replica,
      mode: this.mode,
      head: Math.max(this.head, replica.position),
      lastContact: this.lastContact?.toISOString() ?? null,
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
    const behind = Math.max(0, this.head - pos);
    this.m.lagEvents.set(behind);
    this.m.lagSeconds.set(
      behind > 0 && this.lastEventTime ? Math.max(0, (Date.now() - this.lastEventTime) / 1000) : 0,
    );
  }

  private apply(events: ChangeEvent[], source: "stream" | "feed") {
    const n = this.write(() => this.o.replica.applyEvents(events));
    if (n > 0) {
      this.m.applied.inc({ source }, n);
      this.o.onChange?.();
    }
    const last = events.at(-1);
    if (last) this.lastEventTime = Date.parse(last.time);
    this.head = Math.max(this.head, last?.position ?? 0);
    this.observe();
  }

  private async takeSnapshot(why: string) {
    const spool = join(this.o.replica.dataDir, SNAPSHOT_SPOOL);
    const s = await this.o.control.snapshot(spool).catch((e) => {
      rmSync(spool, { force: true });
      // A spool that does not fit on the disk is the replica's failure, not the network's.
      throw this.failedWrite(e);
    });
    this.contact();
    try {
      this.write(() => this.o.replica.applySnapshot(s));
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
        page = await this.o.control.changes(this.o.replica.position());
      } catch (e) {
        if (!(e instanceof SnapshotNeeded)) throw e;
        await this.takeSnapshot(e.message);
        continue;
      }
      this.contact();
      if (page.head < this.o.replica.position()) {
        // The control plane's history is behind the replica: its database was rebuilt or restored.
        await this.takeSnapshot(
          `control plane head ${page.head} is behind the replica (${this.o.replica.position()})`,
        );
        continue;
      }
      this.head = page.head;
      if (page.events.length > 0) this.apply(page.events, "feed");
      else this.observe();
      if (page.events.length === 0 || page.next >= page.head) return;
    }
  }

  private async run() {
    let natsBackoff = 1000;
    let nextNatsTry = 0;
    let failures = 0;
    while (!this.stopped) {
      try {
        if (!this.ready) await this.takeSnapshot("first start");
        await this.catchUp();
        failures = 0;
        if (this.o.nats && Date.now() >= nextNatsTry) {
          try {
            await this.follow(this.o.nats);
            natsBackoff = 1000;
          } catch (e) {
            if (this.stopped) break;
            // The replica's own failure: NATS is fine, its backoff stays as it is.
            if (e instanceof ApplyFailed) throw e;
            this.o.logger.warn("NATS stream unavailable; following the change feed", {
              err: (e as Error).message,
            });
            nextNatsTry = Date.now() + natsBackoff;
            natsBackoff = Math.min(natsBackoff * 2, 30_000);
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
              ? Math.min(this.o.pollMs * 2 ** Math.min(attempts - 1, 4), LOCAL_RETRY_MAX_MS)
              : REFUSED_RETRY_MS,
          );
          continue;
        }
        // Control plane unreachable (and NATS not usable): keep serving, retry with backoff.
        failures++;
        if (failures === 1)
          this.o.logger.warn("control plane unreachable; serving from the replica", {
            err: (e as Error).message,
          });
        this.setMode("poll");
        await this.sleeper.sleep(Math.min(this.o.pollMs * 2 ** Math.min(failures, 5), 30_000));
      }
    }
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
      const jsm = await jetstreamManager(this.nc);
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
      const consumer = await jetstream(this.nc).consumers.get(nats.stream, this.o.name);
      this.messages = await consumer.consume({ max_messages: 256 });
      this.setMode("stream");
      this.contact();
      const closed = this.nc.closed();
      for await (const msg of this.messages) {
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
        if (this.stopped) break;
      }
      const err = await Promise.race([closed, Promise.resolve(undefined)]);
      if (!this.stopped) throw err ?? new Error("NATS consumer ended");
    } finally {
      await this.messages?.close().catch(() => {});
      this.messages = undefined;
      await this.nc?.close().catch(() => {});
      this.nc = undefined;
    }
  }
}
