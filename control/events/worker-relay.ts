/**
 * The outbox relay on Workers. An isolate cannot keep a NATS connection
 * between requests, so each flush connects over WebSocket, publishes
 * everything unsent in order, marks it and disconnects. It runs after every
 * mutating request (in `waitUntil`, so the answer is not delayed) and from
 * the cron trigger, which catches up whatever a failed flush left behind.
 *
 * Many isolates flush at once; each round holds the relay lease
 * (PgOutbox.leased), so one publishes at a time and an event is published
 * once. An isolate that finds the lease held waits briefly and tries again:
 * the holder may have read the outbox before this request's write committed.
 */
import { wsconnect } from "@nats-io/nats-core";
import { errorFields } from "../../shared/error-fields";
import type { Logger } from "../../shared/log";
import type { Db } from "../db/types";
import { PgOutbox } from "../stores/outbox";
import { DEFAULT_BATCH, ensureStream, publishBatch, type StreamOptions } from "./publisher";

/** Waits between tries while another relay holds the lease (about 5 s in all, well inside `waitUntil`). */
const SKIPPED_RETRY_MS = 100;
const MAX_SKIPS = 50;

export interface WorkerRelayOptions extends StreamOptions {
  /** NATS_URL for a Worker: `wss://…` (or `ws://…`) of a nats-server `websocket` listener. */
  servers: string;
}

/** Publishes every unsent event. Returns how many; throws if NATS cannot be reached (rows stay unsent). */
export async function flushOutbox(db: Db, opts: WorkerRelayOptions): Promise<number> {
  const outbox = new PgOutbox(db);
  // Nothing to do is the common case after a read-mostly request: skip the connection.
  if ((await outbox.unsent(1)).length === 0) return 0;
  const nc = await wsconnect({
    servers: opts.servers.split(",").map((s) => s.trim()),
    name: "chamicore-outbox-relay-worker",
    reconnect: false,
  });
  try {
    const js = await ensureStream(nc, opts);
    let total = 0;
    let skips = 0;
    for (;;) {
      const { count, skipped } = await publishBatch(outbox, js, opts.subjectPrefix, DEFAULT_BATCH);
      total += count;
      if (skipped) {
        // Still held after this long: that relay is busy with a backlog and will reach our events.
        if (++skips > MAX_SKIPS) return total;
        await new Promise((r) => setTimeout(r, SKIPPED_RETRY_MS));
        continue;
      }
      if (count < DEFAULT_BATCH) return total;
    }
  } finally {
    await nc.close().catch(() => {});
  }
}

export async function flushQuietly(db: Db, opts: WorkerRelayOptions, logger: Logger): Promise<void> {
  try {
    const n = await flushOutbox(db, opts);
    if (n > 0) logger.debug("outbox flushed", { count: n });
  } catch (e) {
    logger.warn("outbox relay cannot publish; events wait for the next flush", errorFields(e));
  }
}
