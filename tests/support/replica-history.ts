/**
 * Random histories for the replica's in-memory read ports (the boot index,
 * the cloud-init index): snapshots, event batches (in order, reversed, with
 * replayed positions), batches that fail part-way, and resets, each
 * followed by a comparison of the port against the SQL port over the same
 * rows. A test gives the rows it generates and the answers it compares.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, expect } from "vitest";
import { openBetterSqlite } from "../../edge-node/node/sqlite";
import { REPLICA_FILE, Replica, ReplicaEventError } from "../../edge-node/replica";
import type { SqliteDatabase } from "../../edge-node/replica/sqlite";
import type { Snapshot } from "../../functions/events/store";
import type { Resource } from "../../shared/envelope";
import type { ChangeEvent } from "../../shared/events";

export const T = "2026-01-01T00:00:00.000Z";

/** The service segment of each replicated resource's event type. */
const SERVICE = {
  components: "smd",
  interfaces: "smd",
  groups: "smd",
  bootparams: "bss",
  payloads: "cloudinit",
} as const;
export type Res = keyof typeof SERVICE;

export const envelope = (kind: string, id: string, spec: Record<string, unknown>): Resource<unknown> => ({
  kind,
  apiVersion: "v1",
  metadata: { id, etag: "e0", createdAt: T, updatedAt: T },
  spec,
});

export interface Row {
  resource: Res;
  doc: Resource<unknown>;
}

type Change = { put: Row } | { del: { resource: Res; id: string } };
type Step =
  | { batch: Change[]; reversed: boolean; stale: boolean }
  | { snapshot: Row[] }
  | { failing: Change[] }
  | { reset: true };

/** Histories of up to 12 steps over the rows `rowArb` makes and the deletions `deleteArb` makes. */
export function historyArb(
  rowArb: fc.Arbitrary<Row>,
  deleteArb: fc.Arbitrary<{ resource: Res; id: string }>,
): fc.Arbitrary<Step[]> {
  const changeArb: fc.Arbitrary<Change> = fc.oneof(
    { weight: 3, arbitrary: rowArb.map((put) => ({ put })) },
    { weight: 1, arbitrary: deleteArb.map((del) => ({ del })) },
  );
  const stepArb: fc.Arbitrary<Step> = fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        batch: fc.array(changeArb, { minLength: 1, maxLength: 8 }),
        reversed: fc.boolean(),
        stale: fc.boolean(),
      }),
    },
    { weight: 1, arbitrary: fc.record({ snapshot: fc.array(rowArb, { maxLength: 20 }) }) },
    { weight: 1, arbitrary: fc.record({ failing: fc.array(changeArb, { maxLength: 4 }) }) },
    { weight: 1, arbitrary: fc.constant({ reset: true as const }) },
  );
  return fc.array(stepArb, { minLength: 1, maxLength: 12 });
}

let seq = 0;
export function eventOf(position: number, c: Change): ChangeEvent {
  const resource = "put" in c ? c.put.resource : c.del.resource;
  const subject = "put" in c ? c.put.doc.metadata.id : c.del.id;
  return {
    specversion: "1.0",
    id: `ev-${++seq}`,
    source: "chamicore-control",
    type: `chamicore.${SERVICE[resource]}.${resource}.${"put" in c ? "updated" : "deleted"}`,
    subject,
    time: T,
    datacontenttype: "application/json",
    data: "put" in c ? c.put.doc : { id: subject },
    position,
  };
}

export function snapshotOf(position: number, rows: Row[]): Snapshot {
  const of = (r: Res) => {
    // A snapshot holds each row once: the last one generated for an id.
    const byId = new Map(rows.filter((x) => x.resource === r).map((x) => [x.doc.metadata.id, x.doc]));
    return [...byId.values()];
  };
  return {
    position,
    components: of("components"),
    interfaces: of("interfaces"),
    groups: of("groups"),
    partitions: [],
    bootparams: of("bootparams"),
    payloads: of("payloads"),
    revocations: [],
  };
}

/**
 * Plays `steps` on `replica`; after each, what `served()` answers (the
 * port under test) must equal what `expected()` answers (the SQL port), and
 * a batch that fails must leave `served()` as it was.
 */
export async function playHistory(
  replica: Replica,
  steps: Step[],
  served: () => Promise<unknown>,
  expected: () => Promise<unknown>,
) {
  let position = 0;
  for (const step of steps) {
    if ("batch" in step) {
      let events = step.batch.map((c) => eventOf(++position, c));
      // Stale: replayed positions the replica has already passed are skipped.
      if (step.stale && position > events.length + 2)
        events = [eventOf(position - events.length - 1, step.batch[0]!), ...events];
      if (step.reversed) events.reverse();
      replica.applyEvents(events);
    } else if ("snapshot" in step) {
      position += 1;
      replica.applySnapshot(snapshotOf(position, step.snapshot));
    } else if ("failing" in step) {
      const before = await served();
      const bad = eventOf(position + step.failing.length + 1, {
        put: { resource: "interfaces", doc: envelope("EthernetInterface", "i0", { componentId: "c0" }) },
      });
      const events = [...step.failing.map((c, k) => eventOf(position + k + 1, c)), bad];
      expect(() => replica.applyEvents(events)).toThrow(ReplicaEventError);
      expect(await served()).toEqual(before);
    } else {
      replica.reset();
      position = 0;
    }
    expect(await served()).toEqual(await expected());
  }
}

/**
 * Inside a `describe`: a temporary directory for its replicas, and a way to
 * open a fresh replica there with `sqlPort` (the SQL read port) on a second
 * connection to the same file (`at`: the replica's directory).
 */
export function replicasBeside<P>(sqlPort: (db: SqliteDatabase) => P) {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "chamicore-replica-history-"));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  let run = 0;
  return (): { replica: Replica; sql: P; close(): void; at: string } => {
    const at = join(dir, `r${run++}`);
    const replica = Replica.open(at, { sqlite: openBetterSqlite });
    const db = openBetterSqlite(join(at, REPLICA_FILE));
    return {
      at,
      replica,
      sql: sqlPort(db),
      close() {
        db.close();
        replica.close();
      },
    };
  };
}

/** 150 random histories, each on a fresh replica: the port `served` picks answers as `answers` over the SQL port. */
export async function checkRandomHistories<P, S>(
  open: () => { replica: Replica; sql: P; close(): void },
  rows: { rowArb: fc.Arbitrary<Row>; deleteArb: fc.Arbitrary<{ resource: Res; id: string }> },
  served: (replica: Replica) => S,
  answers: (port: S | P) => Promise<unknown>,
) {
  await fc.assert(
    fc.asyncProperty(historyArb(rows.rowArb, rows.deleteArb), async (steps) => {
      const { replica, sql, close } = open();
      try {
        await playHistory(
          replica,
          steps,
          () => answers(served(replica)),
          () => answers(sql),
        );
      } finally {
        close();
      }
    }),
    { numRuns: 150 },
  );
}
