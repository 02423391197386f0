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
import { toResource } from "../../shared/envelope";
import {
  components,
  ethernetInterfaces,
  groupMembers,
  groups,
  outbox,
  partitionMembers,
  partitions,
  revocations,
} from "../db/schema";
import type { Db } from "../db/types";
import { revocationOf } from "./auth/revocations";
import { componentOf, groupOf, interfaceOf } from "./inventory";
import { PgOutbox, toChangeEvent } from "./outbox";

type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

/** Group rows with their members, as the API shows them. */
async function withMembers(
  tx: Tx,
  table: typeof groups,
  members: {
    group: typeof groupMembers.groupName;
    component: typeof groupMembers.componentId;
    table: typeof groupMembers;
  },
) {
  const rows = await tx.select().from(table).orderBy(asc(table.name));
  const byGroup = new Map<string, string[]>();
  for (const m of await tx
    .select({ g: members.group, c: members.component })
    .from(members.table)
    .orderBy(asc(members.component))) {
    const list = byGroup.get(m.g) ?? [];
    list.push(m.c);
    byGroup.set(m.g, list);
  }
  return rows.map((r) => groupOf(r, byGroup.get(r.name) ?? []));
}

export class PgFeedStore implements FeedStore {
  constructor(
    private readonly db: Db,
    /** Boot params and payloads, read inside the snapshot transaction by their own stores' mappers. */
    private readonly extra: (tx: Tx) => Promise<Pick<Snapshot, "bootparams" | "payloads">>,
  ) {}

  snapshot(): Promise<Snapshot> {
    return this.db.transaction(
      async (tx) => {
        const head = await new PgOutbox(tx as unknown as Db).head();
        const now = new Date();
        const [comps, ifaces, grps, parts, revs, extra] = [
          await tx.select().from(components).orderBy(asc(components.id)),
          await tx.select().from(ethernetInterfaces).orderBy(asc(ethernetInterfaces.id)),
          await withMembers(tx, groups, {
            group: groupMembers.groupName,
            component: groupMembers.componentId,
            table: groupMembers,
          }),
          await withMembers(tx, partitions as unknown as typeof groups, {
            group: partitionMembers.partitionName as unknown as typeof groupMembers.groupName,
            component: partitionMembers.componentId as unknown as typeof groupMembers.componentId,
            table: partitionMembers as unknown as typeof groupMembers,
          }),
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
    const rows = await this.db
      .select()
      .from(outbox)
      .where(gt(outbox.position, position))
      .orderBy(asc(outbox.position))
      .limit(limit);
    return { events: rows.map(toChangeEvent), head: await out.head(), tail: await out.tail() };
  }
}
