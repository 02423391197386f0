/**
 * The edge's boot progress recorder: what the boot-script and cloud-init
 * answers saw (the latest stage per node, in a map), sent to the control
 * plane in batches by a timer.
 *
 * Recording runs inside the answer to a booting node, so it is one map
 * update and never waits or throws. Coalescing to the latest stage per node
 * also bounds the memory an uplink outage can take: at most one entry per
 * node the rack boots, however long the outage lasts. Past `maxNodes`
 * (an edge asked by more nodes than any rack holds) the entry updated
 * longest ago is dropped and counted. The map lives in memory only: an edge
 * restarted during an outage forgets what it had not sent, and its nodes
 * show their next stage when they reach it. Spooling to the replica's
 * SQLite instead would put a write on every answer, in a database that
 * holds only what the control plane sends.
 *
 * A batch that fails goes back into the map behind what came since, unless
 * the node has moved on meanwhile; the control plane keeps a node's latest
 * stage by time, so a resent batch cannot take a node back either.
 */
import type { ProgressBatch, Stage } from "../../functions/progress/schemas";
import { MAX_BATCH } from "../../functions/progress/schemas";
import type { ProgressObserver } from "../../functions/progress/store";
import type { Logger } from "../../shared/log";

interface Entry {
  stage: Stage;
  /** Epoch ms, by this edge's clock. */
  at: number;
  /** The retry of the node's last boot script, when this edge saw it. */
  retry: number | undefined;
  address: string | undefined;
}

export interface RecorderOptions {
  /** This edge's name (CHAMICORE_EDGE_NAME). */
  edge: string;
  /** Sends one batch; throws when the control plane did not take it. */
  send: (batch: ProgressBatch) => Promise<unknown>;
  logger: Logger;
  /** Milliseconds between sends; default 1000. */
  flushMs?: number;
  /** Nodes kept unsent at most; default 100,000. */
  maxNodes?: number;
  now?: () => number;
}

export interface RecorderStatus {
  /** Nodes whose latest stage is not sent yet. */
  pending: number;
  /** Stages dropped because more than `maxNodes` nodes were waiting. */
  dropped: number;
  /** Events the control plane has taken. */
  sent: number;
  /** The last send's failure, while sends fail. */
  failing: string | null;
}

export class ProgressRecorder implements ProgressObserver {
  private pending = new Map<string, Entry>();
  private dropped = 0;
  private sent = 0;
  private failing: string | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private flushing: Promise<void> | undefined;
  private stopped = false;
  private readonly now: () => number;
  private readonly maxNodes: number;

  constructor(private readonly o: RecorderOptions) {
    this.now = o.now ?? Date.now;
    this.maxNodes = o.maxNodes ?? 100_000;
  }

  seen(e: { node: string; stage: Stage; retry?: number; address?: string }): void {
    const had = this.pending.get(e.node);
    const entry: Entry = {
      stage: e.stage,
      at: this.now(),
      // A document or phone-home keeps the retry of the boot script before it.
      retry: e.stage === "bootscript" ? e.retry : had?.retry,
      address: e.address ?? had?.address,
    };
    // Deleted and set again: the map's order is then the order of last update, oldest first.
    if (had) this.pending.delete(e.node);
    else if (this.pending.size >= this.maxNodes) this.dropOldest();
    this.pending.set(e.node, entry);
  }

  private dropOldest() {
    const oldest = this.pending.keys().next();
    if (!oldest.done) {
      this.pending.delete(oldest.value);
      this.dropped++;
    }
  }

  status(): RecorderStatus {
    return { pending: this.pending.size, dropped: this.dropped, sent: this.sent, failing: this.failing };
  }

  start(): void {
    const next = () => {
      this.timer = setTimeout(tick, this.o.flushMs ?? 1000);
      // A recorder alone never keeps the process up.
      this.timer.unref?.();
    };
    const tick = () => {
      this.flushing = this.flush().finally(() => {
        this.flushing = undefined;
        if (!this.stopped) next();
      });
    };
    next();
  }

  /**
   * Stops the timer and makes one last attempt to send what is kept, for at
   * most `waitMs`: an uplink that drops packets must not hold up a shutdown.
   */
  async stop(waitMs = 2000): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    let timeout: ReturnType<typeof setTimeout> | undefined;
    const last = (async () => {
      await this.flushing;
      await this.flush();
    })();
    await Promise.race([last, new Promise((r) => (timeout = setTimeout(r, waitMs)))]);
    clearTimeout(timeout);
  }

  /** Sends everything kept, a batch at a time; what is not taken stays for the next round. */
  async flush(): Promise<void> {
    if (this.pending.size === 0) return;
    const taken = [...this.pending];
    this.pending = new Map();
    let done = 0;
    try {
      while (done < taken.length) {
        const part = taken.slice(done, done + MAX_BATCH);
        await this.o.send({
          edge: this.o.edge,
          sentAt: new Date(this.now()).toISOString(),
          events: part.map(([node, e]) => ({
            node,
            stage: e.stage,
            at: new Date(e.at).toISOString(),
            ...(e.retry === undefined ? {} : { retry: e.retry }),
            ...(e.address === undefined ? {} : { address: e.address }),
          })),
          ...(this.dropped ? { dropped: this.dropped } : {}),
        });
        done += part.length;
        this.sent += part.length;
      }
      if (this.failing !== null) this.o.logger.info("boot progress reaches the control plane again");
      this.failing = null;
    } catch (e) {
      const message = e instanceof Error ? e.message : String(e);
      if (this.failing === null)
        this.o.logger.warn("cannot send boot progress; keeping it until the control plane takes it", {
          err: message,
          pending: taken.length - done,
        });
      this.failing = message;
      this.putBack(taken.slice(done));
    }
  }

  /** Unsent entries back in front of the newer ones; a node that moved on keeps its newer stage. */
  private putBack(unsent: [string, Entry][]) {
    const since = this.pending;
    this.pending = new Map();
    for (const [node, e] of unsent) {
      const newer = since.get(node);
      if (newer) {
        if (newer.retry === undefined) newer.retry = e.retry;
        newer.address ??= e.address;
      } else this.pending.set(node, e);
    }
    for (const [node, e] of since) {
      if (this.pending.size >= this.maxNodes) this.dropOldest();
      this.pending.set(node, e);
    }
  }
}
