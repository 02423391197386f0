/**
 * The work stream itself (names and messages: ./work.ts). Created by
 * whichever side comes first, the control plane's dispatcher or an edge
 * agent, with the same settings; an existing one is left as its operator
 * set it.
 */
import {
  AckPolicy,
  type JetStreamClient,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
} from "@nats-io/jetstream";
import { type NatsConnection, nanos } from "@nats-io/nats-core";
import { workConsumerName, workStreamName, workSubject, workSubjectRoot } from "./work";

/** How long an edge may hold a message without a sign of life before NATS hands it to another. */
export const WORK_ACK_WAIT_MS = 30_000;

export interface WorkStreamOptions {
  /** The event stream's name (CHAMICORE_NATS_STREAM); the work stream is named after it. */
  stream: string;
  subjectPrefix: string;
}

export async function ensureWorkStream(nc: NatsConnection, o: WorkStreamOptions): Promise<JetStreamClient> {
  const jsm = await jetstreamManager(nc);
  const name = workStreamName(o.stream);
  try {
    await jsm.streams.info(name);
  } catch {
    try {
      await jsm.streams.add({
        name,
        subjects: [`${workSubjectRoot(o.subjectPrefix)}.>`],
        // Removed once acknowledged: a message is work not yet done.
        retention: RetentionPolicy.Workqueue,
        duplicate_window: nanos(10 * 60_000),
      });
    } catch (e) {
      // Created by the other side meanwhile: fine; otherwise a real failure.
      await jsm.streams.info(name).catch(() => {
        throw e;
      });
    }
  }
  return jetstream(nc);
}

/** The durable consumer the edges of `site` share, created if missing. */
export async function ensureWorkConsumer(nc: NatsConnection, o: WorkStreamOptions, site: string) {
  await ensureWorkStream(nc, o);
  const jsm = await jetstreamManager(nc);
  const stream = workStreamName(o.stream);
  const name = workConsumerName(site);
  await jsm.consumers.info(stream, name).catch(async () => {
    await jsm.consumers.add(stream, {
      durable_name: name,
      ack_policy: AckPolicy.Explicit,
      filter_subject: workSubject(o.subjectPrefix, site),
      ack_wait: nanos(WORK_ACK_WAIT_MS),
    });
  });
  return jetstream(nc).consumers.get(stream, name);
}
