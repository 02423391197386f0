/**
 * The outbox relay of the Worker build, in workerd: a write publishes its
 * events over NATS's WebSocket transport right after the answer; with NATS
 * down the write still succeeds and its events wait; the cron trigger
 * publishes them once NATS is back, in order, once each.
 */
import { afterAll, describe, expect, it } from "vitest";
import { openDatabase } from "../../control/db/node";
import { outbox } from "../../control/db/schema";
import { eventually, privateNats, readStream, uniqueStream } from "../support/nats";
import { type Target, workerTarget } from "../support/targets";

const cleanup: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => {});
});

const C = "/hsm/v2/State/Components";

describe("the Worker's outbox relay", () => {
  it("publishes after each write over WebSocket, and catches up from the cron trigger after an outage", async () => {
    const nats = await privateNats();
    cleanup.push(() => nats.dispose());
    const { stream, prefix } = uniqueStream("worker");
    const t: Target = await workerTarget({
      NATS_URL: nats.wsUrl,
      CHAMICORE_NATS_STREAM: stream,
      CHAMICORE_NATS_SUBJECT_PREFIX: prefix,
    });
    cleanup.push(() => t.stop());

    expect((await t.call("POST", C, { body: { id: "x3c0s0b0n0", nid: 1 } })).status).toBe(201);
    const first = await eventually(
      "the write's event",
      () => readStream(nats.url, stream),
      (m) => m.length === 1,
    );
    expect(first[0]!.event).toMatchObject({
      type: "chamicore.smd.components.created",
      subject: "x3c0s0b0n0",
    });
    expect(first[0]!.subject).toBe(`${prefix}.smd.components.created`);

    await nats.stop();
    for (let i = 1; i <= 3; i++)
      expect((await t.call("POST", C, { body: { id: `x3c0s0b0n${i}` } })).status).toBe(201);
    const db = await openDatabase({ databaseUrl: t.databaseUrl!, dataDir: "/nonexistent" });
    cleanup.push(() => db.close());
    await eventually(
      "three unsent events",
      async () => (await db.db.select().from(outbox)).filter((r) => r.sentAt === null).length,
      (n) => n === 3,
    );

    await nats.start();
    await t.scheduled!();
    const all = await eventually(
      "every event",
      () => readStream(nats.url, stream),
      (m) => m.length >= 4,
    );
    expect(all.map((m) => m.event.subject)).toEqual(["x3c0s0b0n0", "x3c0s0b0n1", "x3c0s0b0n2", "x3c0s0b0n3"]);
  });
});
