/**
 * Several control-plane processes each run an outbox relay over one
 * database: one publishes at a time (the relay lease), so each event is
 * published once, none is lost, and the stream stays in position order. The
 * relays' own counters show it. Real Postgres, the machine's NATS JetStream.
 */
import { afterAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { type NodeDatabase, openDatabase } from "../../control/db/node";
import { OutboxRelay } from "../../control/events/relay";
import { flushOutbox } from "../../control/events/worker-relay";
import { appendEvents, PgOutbox } from "../../control/stores/outbox";
import { silentLogger } from "../../shared/log";
import { Registry } from "../../shared/metrics";
import {
  deleteStream,
  eventually,
  privateNats,
  readStream,
  SHARED_NATS_URL,
  uniqueStream,
} from "../support/nats";
import { createTestDatabase } from "../support/postgres";

const cleanup: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => {});
});

const EVENTS = 2000;
const WRITERS = 24;

/** A counter's value as /metrics shows it. */
function counter(registry: Registry, name: string): number {
  const m = new RegExp(`^${name} (\\d+)$`, "m").exec(registry.render());
  return m ? Number(m[1]) : 0;
}

const created = (i: number) => ({
  service: "smd" as const,
  resource: "components",
  action: "created" as const,
  subject: `n${i}`,
  data: { id: `n${i}` },
});

describe("three outbox relays over one outbox", () => {
  it("publish each event once, in position order, during a burst of 2,000 writes", async () => {
    const db = await createTestDatabase("relays");
    cleanup.push(() => db.drop());
    const { stream, prefix } = uniqueStream("relays");
    cleanup.push(() => deleteStream(SHARED_NATS_URL, stream));

    // Three "processes": each its own connection pool, relay and metrics.
    const nodes: NodeDatabase[] = [];
    for (let i = 0; i < 3; i++) {
      const node = await openDatabase({ databaseUrl: db.url, dataDir: "/nonexistent" });
      cleanup.push(() => node.close());
      nodes.push(node);
    }
    await nodes[0]!.migrate();
    const relays = nodes.map((node) => {
      const registry = new Registry();
      const relay = new OutboxRelay(new PgOutbox(node.db), {
        servers: SHARED_NATS_URL,
        stream,
        subjectPrefix: prefix,
        logger: silentLogger,
        registry,
        pollMs: 200,
      });
      cleanup.push(() => relay.stop());
      return { node, relay, registry };
    });
    for (const r of relays) r.relay.start();

    // Each write commits one event on one of the processes and wakes its relay, as a request does.
    let next = 0;
    await Promise.all(
      Array.from({ length: WRITERS }, async (_, w) => {
        const { node, relay } = relays[w % relays.length]!;
        for (let i = next++; i < EVENTS; i = next++) {
          await node.db.transaction((tx) => appendEvents(tx, [created(i)]));
          relay.wake();
        }
      }),
    );

    const store = new PgOutbox(nodes[0]!.db);
    await eventually(
      "every event marked sent",
      () => store.unsent(1),
      (r) => r.length === 0,
      60_000,
    );
    const positions = (await store.after(0, EVENTS * 2)).map((r) => r.position);
    expect(positions).toHaveLength(EVENTS);

    const msgs = await readStream(SHARED_NATS_URL, stream);
    const published = relays.map((r) => counter(r.registry, "chamicore_outbox_published_total"));
    const skipped = relays.map((r) => counter(r.registry, "chamicore_outbox_rounds_skipped_total"));
    const total = published.reduce((a, b) => a + b, 0);
    console.log(
      `published per relay ${published.join(" + ")} = ${total} for ${EVENTS} events; rounds skipped ${skipped.join(", ")}`,
    );
    // None lost, none twice, and the stream in position order.
    expect(msgs.map((m) => m.event.position)).toEqual(positions);
    // Each event published by one relay: the work is not repeated.
    expect(total).toBeGreaterThanOrEqual(EVENTS);
    expect(total).toBeLessThanOrEqual(EVENTS * 1.01);
    // The relays did contend, and the losers stood aside.
    expect(skipped.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
  }, 120_000);
});

describe("the Worker's flush, from several isolates at once", () => {
  it("publishes each event once, in position order", async () => {
    // The Worker's NATS transport is the WebSocket one; Node 20 has no global WebSocket.
    const g = globalThis as { WebSocket?: unknown };
    const had = g.WebSocket;
    g.WebSocket ??= WebSocket;
    cleanup.push(async () => {
      g.WebSocket = had;
    });
    const nats = await privateNats();
    cleanup.push(() => nats.dispose());
    const db = await createTestDatabase("flushes");
    cleanup.push(() => db.drop());
    const node = await openDatabase({ databaseUrl: db.url, dataDir: "/nonexistent" });
    cleanup.push(() => node.close());
    await node.migrate();
    const { stream, prefix } = uniqueStream("flushes");
    const opts = { servers: nats.wsUrl, stream, subjectPrefix: prefix, logger: silentLogger };

    // Each request writes one event, then flushes everything unsent (as after every write).
    const events = 300;
    let next = 0;
    let total = 0;
    await Promise.all(
      Array.from({ length: 6 }, async () => {
        for (let i = next++; i < events; i = next++) {
          await node.db.transaction((tx) => appendEvents(tx, [created(i)]));
          const n = await flushOutbox(node.db, opts);
          total += n;
        }
      }),
    );
    total += await flushOutbox(node.db, opts);
    const store = new PgOutbox(node.db);
    expect(await store.unsent(1)).toEqual([]);
    console.log(`flushes published ${total} for ${events} events`);
    const msgs = await readStream(nats.url, stream);
    expect(msgs.map((m) => m.event.position)).toEqual(
      (await store.after(0, events * 2)).map((r) => r.position),
    );
    expect(msgs).toHaveLength(events);
    expect(total).toBeGreaterThanOrEqual(events);
    expect(total).toBeLessThanOrEqual(events * 1.01);
  }, 120_000);
});
