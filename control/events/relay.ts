/**
 * The outbox relay on Node: publishes unsent outbox rows, in position order,
 * to a JetStream stream, then marks them sent. It wakes when a write commits
 * (`wake()`, called after each mutating request) and polls as a fallback.
 *
 * At-least-once, deduplicated: each message carries the event id as
 * `Nats-Msg-Id`, so a relay that dies between publishing and marking
 * re-publishes into the stream's duplicate window and the stream keeps one
 * copy. With NATS unreachable rows simply wait; the relay retries with
 * backoff and catches up in order when NATS returns. A lost database
 * session is the same: the round fails, the relay retries with backoff, and
 * rows a round published but could not mark are re-published and dropped
 * by the stream as duplicates.
 *
 * Several control-plane processes on one database each run a relay; a round
 * holds the relay lease (PgOutbox.leased), so one publishes at a time and
 * each event once, in position order. A relay that finds the lease held
 * skips the round (counted in chamicore_outbox_rounds_skipped_total) and,
 * if a local write woke it, tries again shortly.
 */
import type { JetStreamClient } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Backoff } from "../../shared/backoff";
import { errorFields, failedStatement } from "../../shared/error-fields";
import { Counter, Gauge, type Registry } from "../../shared/metrics";
import { Sleeper } from "../../shared/sleeper";
import { isConnectionFault } from "../db/faults";
import type { OutboxRow, PgOutbox } from "../stores/outbox";
import {
  type BatchResult,
  DEFAULT_BATCH,
  ensureStream,
  publishBatch,
  publishRows,
  type StreamOptions,
} from "./publisher";

export interface RelayOptions extends StreamOptions {
  /** NATS_URL: comma-separated servers. */
  servers: string;
  registry?: Registry;
  batch?: number;
  /** Fallback poll interval; commits wake the relay sooner. */
  pollMs?: number;
  /** Sent rows older than this are pruned (the change feed serves from what is kept). */
  retentionMs?: number;
}

const SECOND = 1000;
/** After a skipped round that a local write asked for: long enough for the lease holder's round to end. */
const SKIPPED_RETRY_MS = 50;

export class OutboxRelay {
  private nc: NatsConnection | undefined;
  private js: JetStreamClient | undefined;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private readonly sleeper = new Sleeper();
  private pending = false;
  private lastPrune = 0;
  private readonly published: Counter;
  private readonly position: Gauge;
  private readonly failures: Counter;
  private readonly skipped: Counter;
  private readonly unsent: Gauge;

  constructor(
    private readonly outbox: PgOutbox,
    private readonly opts: RelayOptions,
  ) {
    const r = opts.registry;
    this.published = new Counter("chamicore_outbox_published_total", "Events published to NATS JetStream.");
    this.position = new Gauge(
      "chamicore_outbox_published_position",
      "Outbox position of the last published event.",
    );
    this.failures = new Counter(
      "chamicore_outbox_publish_failures_total",
      "Failed relay rounds (NATS unreachable…).",
    );
    this.skipped = new Counter(
      "chamicore_outbox_rounds_skipped_total",
      "Relay rounds left to another control-plane process's relay, which held the lease.",
    );
    this.unsent = new Gauge(
      "chamicore_outbox_unsent_events",
      "Events committed but not yet published to NATS, as this process last saw (0 where another process relays).",
    );
    this.unsent.set(0);
    r?.register(this.unsent);
    r?.register(this.published);
    r?.register(this.position);
    r?.register(this.failures);
    r?.register(this.skipped);
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** A write committed: publish soon. */
  wake(): void {
    this.pending = true;
    this.sleeper.wake();
  }

  /** Stops after the round in flight (its rows are published and marked, or left for next time). */
  async stop(): Promise<void> {
    this.stopped = true;
    this.sleeper.wake();
    await this.loop;
    await this.nc?.drain().catch(() => {});
    this.nc = undefined;
  }

  /** Publishes `rows` in order and waits for the stream to store each. Does not mark them. */
  async publish(rows: OutboxRow[]): Promise<void> {
    await publishRows(await this.client(), rows, this.opts.subjectPrefix);
  }

  /** One round: publish the oldest unsent batch and mark it sent, unless another relay holds the lease. */
  async round(): Promise<BatchResult> {
    const done = await publishBatch(
      this.outbox,
      await this.client(),
      this.opts.subjectPrefix,
      this.opts.batch ?? DEFAULT_BATCH,
    );
    if (done.skipped) {
      this.skipped.inc();
      this.unsent.set(0);
    } else {
      if (done.count > 0) {
        this.published.inc({}, done.count);
        this.position.set(done.last);
      }
      // A short batch took every event there was; a full one may have left more.
      this.unsent.set(done.count < (this.opts.batch ?? DEFAULT_BATCH) ? 0 : await this.outbox.unsentCount());
    }
    return done;
  }

  private async client(): Promise<JetStreamClient> {
    if (!this.nc || this.nc.isClosed()) {
      this.nc = await connect({
        servers: this.opts.servers.split(",").map((s) => s.trim()),
        name: "chamicore-outbox-relay",
        reconnect: true,
        maxReconnectAttempts: -1,
      });
      this.js = undefined;
    }
    this.js ??= await ensureStream(this.nc, this.opts);
    return this.js;
  }

  private async run(): Promise<void> {
    const backoff = new Backoff();
    let down: "nats" | "database" | undefined;
    while (!this.stopped) {
      const woken = this.pending;
      this.pending = false;
      let full = false;
      let retrySoon = false;
      try {
        const done = await this.round();
        full = done.count >= (this.opts.batch ?? DEFAULT_BATCH);
        // The relay in its round may have read the outbox before this process's
        // write committed: if a write woke us, try again shortly rather than
        // leave that event to the next poll.
        retrySoon = done.skipped && woken;
        if (down)
          this.opts.logger.info(
            `${down === "nats" ? "NATS" : "the database"} reachable again; outbox relay resumed`,
          );
        down = undefined;
        backoff.reset();
        await this.maybePrune();
      } catch (e) {
        this.failures.inc();
        // The backlog grows while NATS is away: counted if the database answers.
        await this.outbox
          .unsentCount()
          .then((n) => this.unsent.set(n))
          .catch(() => {});
        // A statement that lost its database session leaves the NATS connection good;
        // anything else may be NATS (its socket errors look alike, hence the statement).
        const cause = failedStatement(e) && isConnectionFault(e) ? "database" : "nats";
        if (down !== cause)
          this.opts.logger.warn(
            cause === "database"
              ? "outbox relay cannot reach the database; retrying"
              : "outbox relay cannot publish; events wait in the outbox",
            errorFields(e),
          );
        down = cause;
        if (cause === "nats") {
          this.nc?.close().catch(() => {});
          this.nc = undefined;
        }
        await this.sleeper.sleep(backoff.fail());
        continue;
      }
      if (full) continue;
      if (retrySoon) {
        await this.sleeper.sleep(SKIPPED_RETRY_MS);
        this.pending = true;
      } else if (!this.pending) await this.sleeper.sleep(this.opts.pollMs ?? 5 * SECOND);
    }
  }

  private async maybePrune() {
    const retention = this.opts.retentionMs ?? 7 * 86_400 * SECOND;
    if (Date.now() - this.lastPrune < 60 * SECOND) return;
    this.lastPrune = Date.now();
    const n = await this.outbox.prune(new Date(Date.now() - retention));
    if (n > 0) this.opts.logger.info("pruned sent outbox events", { count: n });
  }
}
