/**
 * Boot progress in Postgres (`bss.progress`, `events.edges`): one row per
 * node holding its latest stage, upserted only forward; the status page
 * joins the inventory for racks and groups.
 */
import { and, asc, count, desc, eq, exists, inArray, lte, ne, type SQL, sql } from "drizzle-orm";
import { DONE_STAGE, type EdgeReport, STAGES, type StageCounts } from "../../functions/progress/schemas";
import type {
  ProgressStore,
  SeenStage,
  StatusQuery,
  StatusRow,
  StoredEdge,
} from "../../functions/progress/store";
import { bootProgress, components, edges, groupMembers } from "../db/schema";
import type { Db } from "../db/types";
import { chunks, rowsOf } from "./pg-util";

/** A stage's place in a boot, as SQL: equal times are ordered by it. */
const rankOf = (stage: SQL) =>
  sql`array_position(array[${sql.join(
    STAGES.map((s) => sql`${s}`),
    sql`, `,
  )}]::text[], ${stage}::text)`;

export class PgProgressStore implements ProgressStore {
  constructor(private readonly db: Db) {}

  async record(edge: string | null, events: SeenStage[]): Promise<number> {
    // The latest of each node in the batch: one row may be upserted once per statement.
    const latest = new Map<string, SeenStage>();
    for (const e of events) {
      const had = latest.get(e.node);
      if (
        !had ||
        had.edgeAt < e.edgeAt ||
        (+had.edgeAt === +e.edgeAt && STAGES.indexOf(had.stage) < STAGES.indexOf(e.stage))
      )
        latest.set(e.node, { ...e, retry: e.retry ?? had?.retry ?? null });
    }
    let moved = 0;
    for (const part of chunks([...latest.values()], 1000)) {
      const values = sql.join(
        part.map(
          (e) =>
            sql`(${e.node}::varchar, ${e.stage}::varchar, ${e.at.toISOString()}::timestamptz, ${e.edgeAt.toISOString()}::timestamptz, ${e.retry}::int, ${e.address}::varchar)`,
        ),
        sql`, `,
      );
      const p = bootProgress;
      // Joined with the inventory: a node deleted (or never enrolled) is left out, not an error.
      const result = await this.db.execute(sql`
        insert into ${p} (component_id, stage, at, edge_at, edge, retry, address)
        select v.node, v.stage, v.at, v.edge_at, ${edge}::varchar, v.retry, v.address
        from (values ${values}) as v(node, stage, at, edge_at, retry, address)
        join ${components} c on c.id = v.node
        on conflict (component_id) do update set
          stage = excluded.stage, at = excluded.at, edge_at = excluded.edge_at, edge = excluded.edge,
          retry = coalesce(excluded.retry, ${p.retry}), address = coalesce(excluded.address, ${p.address}),
          received_at = now()
        where case when excluded.edge is not distinct from ${p.edge}
          then (excluded.edge_at, ${rankOf(sql`excluded.stage`)}) > (${p.edgeAt}, ${rankOf(sql`${p.stage}`)})
          else (excluded.at, ${rankOf(sql`excluded.stage`)}) > (${p.at}, ${rankOf(sql`${p.stage}`)}) end
        returning 1`);
      moved += rowsOf(result).length;
    }
    return moved;
  }

  async status(q: StatusQuery) {
    const p = bootProgress;
    const population: SQL[] = [];
    if (q.racks.length) population.push(inArray(components.rack, q.racks));
    if (q.edges.length) population.push(inArray(p.edge, q.edges));
    if (q.groups.length)
      population.push(
        exists(
          this.db
            .select({ one: sql`1` })
            .from(groupMembers)
            .where(
              and(eq(groupMembers.componentId, p.componentId), inArray(groupMembers.groupName, q.groups)),
            ),
        ),
      );
    const narrowed = [...population];
    if (q.ids.length) narrowed.push(inArray(p.componentId, q.ids));
    if (q.stages.length) narrowed.push(inArray(p.stage, q.stages));
    if (q.stuckForSeconds !== undefined)
      narrowed.push(ne(p.stage, DONE_STAGE), lte(p.at, new Date(+q.now - q.stuckForSeconds * 1000)));
    const where = and(...narrowed);
    const by = { at: p.at, id: p.componentId, stage: sql`${rankOf(sql`${p.stage}`)}` }[q.sort.field];
    const order = [q.sort.desc ? desc(by) : asc(by), asc(p.componentId)];
    const [rows, [total], perStage] = await Promise.all([
      this.db
        .select({
          node: p.componentId,
          stage: p.stage,
          at: p.at,
          edge: p.edge,
          retry: p.retry,
          address: p.address,
          rack: components.rack,
        })
        .from(p)
        .innerJoin(components, eq(components.id, p.componentId))
        .where(where)
        .orderBy(...order)
        .limit(q.limit)
        .offset(q.offset),
      this.db
        .select({ n: count() })
        .from(p)
        .innerJoin(components, eq(components.id, p.componentId))
        .where(where),
      this.db
        .select({ stage: p.stage, n: count() })
        .from(p)
        .innerJoin(components, eq(components.id, p.componentId))
        .where(and(...population))
        .groupBy(p.stage),
    ]);
    const counts = Object.fromEntries(STAGES.map((s) => [s, 0])) as StageCounts;
    for (const r of perStage) if (r.stage in counts) counts[r.stage as keyof StageCounts] = Number(r.n);
    return { rows: rows as StatusRow[], total: Number(total?.n ?? 0), counts };
  }

  async reportEdge(name: string, report: EdgeReport, at: Date): Promise<void> {
    await this.db
      .insert(edges)
      .values({ name, reportedAt: at, report })
      .onConflictDoUpdate({ target: edges.name, set: { reportedAt: at, report } });
  }

  async edges(): Promise<StoredEdge[]> {
    const rows = await this.db.select().from(edges).orderBy(asc(edges.name));
    return rows.map((r) => ({ name: r.name, reportedAt: r.reportedAt, report: r.report as EdgeReport }));
  }
}
