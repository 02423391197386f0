/**
 * The outbox and its relay, against the real Postgres and real NATS
 * JetStream: every committed change becomes exactly one event on the stream,
 * in commit order; nothing is lost when NATS is down or the relay dies
 * between publishing and marking; a rolled-back change emits nothing.
 */
import { count, sql } from "drizzle-orm";
import { afterAll, describe, expect, it } from "vitest";
import { openDatabase } from "../../control/db/node";
import { outbox } from "../../control/db/schema";
import { OutboxRelay } from "../../control/events/relay";
import { appendEvents, PgOutbox } from "../../control/stores/outbox";
import { silentLogger } from "../../shared/log";
import {
  deleteStream,
  eventually,
  privateNats,
  readStream,
  SHARED_NATS_URL,
  uniqueStream,
} from "../support/nats";
import { createTestDatabase } from "../support/postgres";
import { nodePostgresTarget, type Target } from "../support/targets";

const cleanup: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => {});
});

const C = "/hsm/v2/State/Components";

async function outboxRows(databaseUrl: string) {
  const db = await openDatabase({ databaseUrl, dataDir: "/nonexistent" });
  try {
    return await db.db.select().from(outbox).orderBy(outbox.position);
  } finally {
    await db.close();
  }
}

describe("the outbox relay, with the control plane on Node", () => {
  let t: Target;
  const { stream, prefix } = uniqueStream("relay");

  it("puts exactly one event per change on the stream, in commit order, even for concurrent writes", async () => {
    t = await nodePostgresTarget({
      NATS_URL: SHARED_NATS_URL,
      CHAMICORE_NATS_STREAM: stream,
      CHAMICORE_NATS_SUBJECT_PREFIX: prefix,
    });
    cleanup.push(
      () => t.stop(),
      () => deleteStream(SHARED_NATS_URL, stream),
    );

    // Sequential and concurrent writes of several kinds.
    expect((await t.call("POST", C, { body: { id: "x1000c0s0b0n0", nid: 1 } })).status).toBe(201);
    const many = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        t.call("POST", C, { body: { id: `x1000c0s1b0n${i}`, nid: 100 + i } }),
      ),
    );
    expect(many.every((a) => a.status === 201)).toBe(true);
    const comp = await t.call("GET", `${C}/x1000c0s0b0n0`);
    await t.call("PATCH", `${C}/x1000c0s0b0n0`, {
      body: { role: "Compute" },
      headers: { "If-Match": comp.headers.get("etag")! },
    });
    await t.call("POST", "/hsm/v2/groups", {
      body: { name: "rack1", members: ["x1000c0s0b0n0", "x1000c0s1b0n1"] },
    });
    await t.call("DELETE", `${C}/x1000c0s1b0n1`);
    // Refused writes emit nothing.
    expect((await t.call("POST", C, { body: { id: "x1000c0s0b0n0" } })).status).toBe(409);
    expect((await t.call("POST", C, { body: { id: "bad id!" } })).status).toBe(422);

    const rows = await outboxRows(t.databaseUrl!);
    // 21 creations, 1 update, 1 group, and the delete: the component plus the group it left.
    expect(rows.map((r) => r.type).filter((x) => x.endsWith("created"))).toHaveLength(22);
    expect(rows).toHaveLength(25);
    const positions = rows.map((r) => r.position);
    expect(positions).toEqual([...positions].sort((a, b) => a - b));

    const msgs = await eventually(
      "every event on the stream",
      () => readStream(SHARED_NATS_URL, stream),
      (m) => m.length >= rows.length,
    );
    expect(msgs).toHaveLength(rows.length);
    expect(msgs.map((m) => m.event.position)).toEqual(positions);
    expect(msgs.map((m) => m.msgId)).toEqual(rows.map((r) => r.id));
    expect(msgs.map((m) => m.subject)).toEqual(rows.map((r) => r.type.replace(/^chamicore/, prefix)));
    const last = msgs.at(-1)!.event;
    expect(last).toMatchObject({
      specversion: "1.0",
      type: "chamicore.smd.groups.updated",
      subject: "rack1",
    });
    expect(last.data.spec.members).toEqual(["x1000c0s0b0n0"]);
    const deleted = msgs.find((m) => m.event.type === "chamicore.smd.components.deleted")!;
    expect(deleted.event.data).toEqual({ id: "x1000c0s1b0n1" });
    // Marked sent once published.
    await eventually(
      "rows marked sent",
      async () => (await outboxRows(t.databaseUrl!)).filter((r) => r.sentAt === null).length,
      (n) => n === 0,
    );
  });
});

describe("the relay itself", () => {
  it("re-publishes after dying between publish and mark, without duplicates on the stream", async () => {
    const db = await createTestDatabase("relay");
    const node = await openDatabase({ databaseUrl: db.url, dataDir: "/nonexistent" });
    cleanup.push(
      () => db.drop(),
      () => node.close(),
    );
    await node.migrate();
    const { stream, prefix } = uniqueStream("crash");
    cleanup.push(() => deleteStream(SHARED_NATS_URL, stream));
    await node.db.transaction((tx) =>
      appendEvents(
        tx,
        Array.from({ length: 5 }, (_, i) => ({
          service: "smd" as const,
          resource: "components",
          action: "created" as const,
          subject: `n${i}`,
          data: { id: `n${i}` },
        })),
      ),
    );
    const store = new PgOutbox(node.db);
    const opts = {
      servers: SHARED_NATS_URL,
      stream,
      subjectPrefix: prefix,
      logger: silentLogger,
      pollMs: 50,
    };
    const first = new OutboxRelay(store, opts);
    // Published, then "killed" before marking: the rows are still unsent.
    await first.publish(await store.unsent(100));
    await first.stop();
    expect(await store.unsent(100)).toHaveLength(5);
    expect(await readStream(SHARED_NATS_URL, stream)).toHaveLength(5);

    const second = new OutboxRelay(store, opts);
    second.start();
    await eventually(
      "the second relay to mark all",
      () => store.unsent(100),
      (r) => r.length === 0,
    );
    await second.stop();
    const msgs = await readStream(SHARED_NATS_URL, stream);
    expect(msgs.map((m) => m.event.subject)).toEqual(["n0", "n1", "n2", "n3", "n4"]);
  });

  it("writes nothing for a rolled-back transaction", async () => {
    const db = await createTestDatabase("rollback");
    const node = await openDatabase({ databaseUrl: db.url, dataDir: "/nonexistent" });
    cleanup.push(
      () => db.drop(),
      () => node.close(),
    );
    await node.migrate();
    await expect(
      node.db.transaction(async (tx) => {
        await appendEvents(tx, [
          { service: "smd", resource: "components", action: "created", subject: "x", data: {} },
        ]);
        await tx.execute(sql`select 1/0`);
      }),
    ).rejects.toThrow();
    const [n] = await node.db.select({ n: count() }).from(outbox);
    expect(n!.n).toBe(0);
  });

  it("keeps events while NATS is down and delivers every one, in order, when it returns", async () => {
    const nats = await privateNats();
    cleanup.push(() => nats.dispose());
    const { stream, prefix } = uniqueStream("outage");
    const t = await nodePostgresTarget({
      NATS_URL: nats.url,
      CHAMICORE_NATS_STREAM: stream,
      CHAMICORE_NATS_SUBJECT_PREFIX: prefix,
    });
    cleanup.push(() => t.stop());
    expect((await t.call("POST", C, { body: { id: "x1c0s0b0n0" } })).status).toBe(201);
    await eventually(
      "the first event",
      () => readStream(nats.url, stream),
      (m) => m.length === 1,
    );

    await nats.stop();
    // Writes go on while NATS is away; their events wait in the outbox.
    for (let i = 1; i <= 10; i++)
      expect((await t.call("POST", C, { body: { id: `x1c0s0b0n${i}` } })).status).toBe(201);
    expect((await outboxRows(t.databaseUrl!)).filter((r) => r.sentAt === null).length).toBe(10);

    await nats.start();
    const msgs = await eventually(
      "all 11 events",
      () => readStream(nats.url, stream),
      (m) => m.length >= 11,
      60_000,
    );
    expect(msgs.map((m) => m.event.subject)).toEqual(Array.from({ length: 11 }, (_, i) => `x1c0s0b0n${i}`));
  });
});
