/**
 * FeedStore over Postgres. The snapshot is read in one REPEATABLE READ
 * transaction together with the outbox head: since events are written in
 * commit order (control/stores/outbox.ts), every change up to that position
 * is in the snapshot and none after it.
 */
import { asc, gt } from "drizzle-orm";
import { AUTH_API_VERSION } from "../../functions/auth/schemas";
import type { FeedStore, Snapshot } from "../../functions/events/store";
import { HSM_API_VERSION } from "../../functions/inventory/schemas";
import type { GroupKind } from "../../functions/inventory/store";
import { toResource } from "../../shared/envelope";
import { components, ethernetInterfaces, installation, revocations } from "../db/schema";
import type { Db, Tx } from "../db/types";
import { revocationOf } from "./auth/revocations";
import { componentOf, groupOf, groupTables, interfaceOf } from "./inventory/rows";
import { PgOutbox, toChangeEvent } from "./outbox";

/** Every group (or partition) with its members, as the API shows them. */
async function withMembers(tx: Tx, kind: GroupKind) {
  const { t, m, mGroup, mComp } = groupTables(kind);
  const byGroup = new Map<string, string[]>();
  for (const r of await tx.select({ g: mGroup, c: mComp }).from(m).orderBy(asc(mComp))) {
    const list = byGroup.get(r.g) ?? [];
    list.push(r.c);
    byGroup.set(r.g, list);
  }
  const rows = await tx.select().from(t).orderBy(asc(t.name));
  return rows.map((r) => groupOf(r, byGroup.get(r.name) ?? []));
}

export class PgFeedStore implements FeedStore {
  /** Written once by a migration, never changed: read once per process. */
  private sourceId: Promise<string> | undefined;

  constructor(
    private readonly db: Db,
    /** Boot params and payloads, read inside the snapshot transaction by their own stores' mappers. */
    private readonly extra: (tx: Tx) => Promise<Pick<Snapshot, "bootparams" | "payloads">>,
  ) {}

  source(): Promise<string> {
    this.sourceId ??= this.db
      .select({ id: installation.id })
      .from(installation)
      .orderBy(asc(installation.createdAt))
      .limit(1)
      .then(([row]) => {
        if (!row) throw new Error("events.installation is empty: run `chamicore migrate`");
        return row.id;
      });
    // A failure (the database away) is not kept: the next call reads again.
    this.sourceId.catch(() => {
      this.sourceId = undefined;
    });
    return this.sourceId;
  }

  snapshot(): Promise<Snapshot> {
    return this.db.transaction(
      async (tx) => {
        const head = await new PgOutbox(tx).head();
        const now = new Date();
        const [comps, ifaces, grps, parts, revs, extra] = [
          await tx.select().from(components).orderBy(asc(components.id)),
          await tx.select().from(ethernetInterfaces).orderBy(asc(ethernetInterfaces.id)),
          await withMembers(tx, "group"),
          await withMembers(tx, "partition"),
          await tx
            .select()
            .from(revocations)
            .where(gt(revocations.expiresAt, now))
            .orderBy(asc(revocations.jti)),
          await this.extra(tx),
        ];
        return {
          position: head,
          components: comps.map((r) => toResource("Component", HSM_API_VERSION, componentOf(r))),
          interfaces: ifaces.map((r) => toResource("EthernetInterface", HSM_API_VERSION, interfaceOf(r))),
          groups: grps.map((g) => toResource("Group", HSM_API_VERSION, g)),
          partitions: parts.map((g) => toResource("Partition", HSM_API_VERSION, g)),
          revocations: revs.map((r) => toResource("Revocation", AUTH_API_VERSION, revocationOf(r))),
          ...extra,
        };
      },
      { isolationLevel: "repeatable read", accessMode: "read only" },
    );
  }

  async changes(position: number, limit: number) {
    const out = new PgOutbox(this.db);
    // limit 0 is the edges' head probe: no rows to read.
    const rows = limit > 0 ? await out.after(position, limit) : [];
    return { events: rows.map(toChangeEvent), head: await out.head(), tail: await out.tail() };
  }
}
