/**
 * Publishing outbox rows to JetStream over any NATS transport: TCP on Node
 * (control/events/relay.ts), WebSocket on Workers (control/events/worker-relay.ts).
 */
import { type JetStreamClient, jetstream, jetstreamManager } from "@nats-io/jetstream";
import { headers, type NatsConnection } from "@nats-io/nats-core";
import { natsSubject } from "../../shared/events";
import type { Logger } from "../../shared/log";
import { activeTraceparent, continuing, inSpan, SpanKind } from "../../shared/tracing";
import { type OutboxRow, type PgOutbox, toChangeEvent } from "../stores/outbox";

export interface StreamOptions {
  /** JetStream stream, created if missing (CHAMICORE_NATS_STREAM). */
  stream: string;
  /** Events go to `<prefix>.<service>.<resource>.<action>` (CHAMICORE_NATS_SUBJECT_PREFIX). */
  subjectPrefix: string;
  /** The stream's deduplication window: longer than any relay outage between publish and mark. */
  duplicateWindowMs?: number;
  logger: Logger;
}

export const DEFAULT_BATCH = 500;

/** Creates the stream if it does not exist; an existing one is left as its operator set it. */
export async function ensureStream(nc: NatsConnection, opts: StreamOptions): Promise<JetStreamClient> {
  const jsm = await jetstreamManager(nc);
  try {
    await jsm.streams.info(opts.stream);
  } catch {
    try {
      await jsm.streams.add({
        name: opts.stream,
        subjects: [`${opts.subjectPrefix}.>`],
        duplicate_window: (opts.duplicateWindowMs ?? 10 * 60_000) * 1_000_000,
      });
      opts.logger.info("created JetStream stream", { stream: opts.stream });
    } catch (e) {
      // Created by another instance in the meantime: fine; otherwise a real failure.
      await jsm.streams.info(opts.stream).catch(() => {
        throw e;
      });
    }
  }
  return jetstream(nc);
}

/**
 * Publishes `rows` in order and waits until the stream has stored each. The
 * event id is the message id, so a repeat within the window is dropped by
 * the stream. Does not mark the rows.
 */
export async function publishRows(js: JetStreamClient, rows: OutboxRow[], subjectPrefix: string) {
  // Pipelined on one connection: the stream stores them in the order sent.
  await Promise.all(
    rows.map((r) => (r.traceparent ? publishTraced(js, r, subjectPrefix) : publishOne(js, r, subjectPrefix))),
  );
}

const publishOne = (js: JetStreamClient, r: OutboxRow, subjectPrefix: string) =>
  js.publish(natsSubject(r.type, subjectPrefix), JSON.stringify(toChangeEvent(r)), { msgID: r.id });

/**
 * A row written by a traced request: its publish is a span of that trace,
 * and the message carries the publish's traceparent (in the CloudEvent and
 * in the NATS headers) for the edges to continue.
 */
const publishTraced = (js: JetStreamClient, r: OutboxRow, subjectPrefix: string) =>
  inSpan(
    "chamicore.outbox.publish",
    {
      "messaging.system": "nats",
      "messaging.operation.type": "send",
      "messaging.destination.name": natsSubject(r.type, subjectPrefix),
      "messaging.message.id": r.id,
      "chamicore.position": r.position,
    },
    () => {
      const traceparent = activeTraceparent();
      const h = headers();
      if (traceparent) h.set("traceparent", traceparent);
      const event = { ...toChangeEvent(r), ...(traceparent ? { traceparent } : {}) };
      return js.publish(natsSubject(r.type, subjectPrefix), JSON.stringify(event), {
        msgID: r.id,
        headers: h,
      });
    },
    { parent: continuing(r.traceparent), kind: SpanKind.PRODUCER },
  );

export interface BatchResult {
  /** Events published (and marked sent) in this round. */
  count: number;
  /** Position of the last one, or 0. */
  last: number;
  /** Another control-plane process's relay held the lease: nothing was read or published here. */
  skipped: boolean;
}

/**
 * One round: the oldest unsent batch, published then marked, under the relay
 * lease (PgOutbox.leased): with several control-plane processes one of them
 * publishes at a time, so each event is published once and the stream stays
 * in position order.
 */
export async function publishBatch(
  outbox: PgOutbox,
  js: JetStreamClient,
  subjectPrefix: string,
  batch = DEFAULT_BATCH,
): Promise<BatchResult> {
  const done = await outbox.leased(async (o) => {
    const rows = await o.unsent(batch);
    if (rows.length === 0) return { count: 0, last: 0, skipped: false };
    await publishRows(js, rows, subjectPrefix);
    const last = rows[rows.length - 1]!.position;
    await o.markSent(last);
    return { count: rows.length, last, skipped: false };
  });
  return done ?? { count: 0, last: 0, skipped: true };
}
