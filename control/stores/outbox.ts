/**
 * Writing and reading the outbox. `appendEvents` runs inside the caller's
 * transaction: the change and its events commit together or not at all.
 */
import { and, asc, gt, isNull, lte, sql } from "drizzle-orm";
import { type ChangeEvent, EVENT_SOURCE, eventType, type NewEvent } from "../../shared/events";
import { activeTraceparent } from "../../shared/tracing";
import { outbox } from "../db/schema";
import type { Db, Tx } from "../db/types";
import { rowsOf } from "./pg-util";

/**
 * Held until commit by every transaction that writes events: positions are
 * then handed out in commit order, so a reader that has seen position N has
 * seen everything before it. Writes to the control plane are serialized by
 * it; reads are not.
 */
const OUTBOX_LOCK = 0x63686d63; // "chmc"

/**
 * The relay lease ("chmr"): a transaction-level advisory lock a relay round
 * holds from reading the oldest unsent rows until they are published and
 * marked. Advisory keys in use are listed in docs/operations.md.
 */
const RELAY_LOCK = 0x63686d72;

export async function appendEvents(tx: Tx, events: NewEvent[]): Promise<void> {
  if (events.length === 0) return;
  await tx.execute(sql`select pg_advisory_xact_lock(${OUTBOX_LOCK})`);
  // The request's trace goes on with the relay and the edges (shared/tracing.ts).
  const traceparent = activeTraceparent() ?? null;
  // Postgres takes at most 65535 parameters per statement; 7 per row.
  for (let i = 0; i < events.length; i += 5000)
    await tx.insert(outbox).values(
      events.slice(i, i + 5000).map((e) => ({
        id: crypto.randomUUID(),
        source: EVENT_SOURCE,
        type: eventType(e),
        subject: e.subject,
        data: e.data as object,
        traceparent,
      })),
    );
}

export type OutboxRow = typeof outbox.$inferSelect;

export const toChangeEvent = (r: OutboxRow): ChangeEvent => ({
  specversion: "1.0",
  id: r.id,
  source: r.source,
  type: r.type,
  subject: r.subject,
  time: r.time.toISOString(),
  datacontenttype: "application/json",
  data: r.data,
  position: r.position,
  ...(r.traceparent ? { traceparent: r.traceparent } : {}),
});

export class PgOutbox {
  constructor(
    private readonly db: Db,
    private readonly opts: {
      /**
       * No other process can reach this database (embedded PGlite, locked to
       * one process): rounds run without the lease, and so without holding a
       * transaction open across the publish, which on PGlite would stall every
       * other query of the process meanwhile.
       */
      soleRelay?: boolean;
    } = {},
  ) {}

  /**
   * Runs one relay round as the only relay publishing at this moment, or
   * returns `undefined` at once when another control-plane process's relay
   * is in its round (a skipped round: that relay publishes what is there).
   *
   * Why a lease rather than claiming rows with `FOR UPDATE SKIP LOCKED`:
   * the stream must hold events in position order, since edges apply them in
   * stream order. Two relays claiming disjoint batches would publish them
   * concurrently, and a later batch could land before an earlier one. With
   * the lease one round at a time reads the oldest unsent rows (after the
   * previous round's marks committed: the lock is released only after the
   * commit is visible), publishes and marks them; so each row is published
   * once and in order, whichever process's relay does it. The lock is held
   * by the round's transaction, so a relay that dies mid-round (or loses its
   * database session) lets go with it: its unmarked rows are published again
   * by the next round and dropped by the stream as duplicates. A
   * transaction-level lock also works behind a transaction-pooling proxy
   * (Hyperdrive), where a session lock would not stay with its session.
   */
  async leased<T>(round: (outbox: PgOutbox) => Promise<T>): Promise<T | undefined> {
    if (this.opts.soleRelay) return round(this);
    return this.db.transaction(async (tx) => {
      const res = await tx.execute(sql`select pg_try_advisory_xact_lock(${RELAY_LOCK}) as held`);
      const [row] = rowsOf<{ held: boolean }>(res);
      if (!row?.held) return undefined;
      return round(new PgOutbox(tx, { soleRelay: true }));
    });
  }

  /** Events after `position`, in order. */
  async after(position: number, limit: number): Promise<OutboxRow[]> {
    return this.db
      .select()
      .from(outbox)
      .where(gt(outbox.position, position))
      .orderBy(asc(outbox.position))
      .limit(limit);
  }

  /** The oldest unsent events, in order. */
  async unsent(limit: number): Promise<OutboxRow[]> {
    return this.db
      .select()
      .from(outbox)
      .where(isNull(outbox.sentAt))
      .orderBy(asc(outbox.position))
      .limit(limit);
  }

  async markSent(upTo: number): Promise<void> {
    await this.db
      .update(outbox)
      .set({ sentAt: new Date() })
      .where(and(isNull(outbox.sentAt), lte(outbox.position, upTo)));
  }

  /** How many events wait to be published. */
  async unsentCount(): Promise<number> {
    const [row] = await this.db
      .select({ n: sql<number>`count(*)::int` })
      .from(outbox)
      .where(isNull(outbox.sentAt));
    return Number(row?.n ?? 0);
  }

  /** The last position written (0 before the first event). */
  async head(): Promise<number> {
    const [row] = await this.db
      .select({ p: sql<number>`coalesce(max(${outbox.position}), 0)::bigint` })
      .from(outbox);
    return Number(row?.p ?? 0);
  }

  /** The first position still kept (older ones were pruned), or head + 1 when empty. */
  async tail(): Promise<number> {
    const [row] = await this.db.select({ p: sql<number | null>`min(${outbox.position})` }).from(outbox);
    return row?.p == null ? (await this.head()) + 1 : Number(row.p);
  }

  /** Deletes sent events older than `before`; the newest event is always kept (it carries the head). */
  async prune(before: Date): Promise<number> {
    const gone = await this.db.execute(
      sql`delete from ${outbox} where ${outbox.sentAt} is not null and ${outbox.time} < ${before}
          and ${outbox.position} < (select max(position) from ${outbox}) returning position`,
    );
    return (Array.isArray(gone) ? gone : (gone as { rows: unknown[] }).rows).length;
  }
}
