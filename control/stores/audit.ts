/**
 * The audit trail in Postgres (`audit.events`): appended by the audit
 * middleware, read newest first, pruned after the retention period.
 */
import { asc, desc, gte, lt, type SQL, sql } from "drizzle-orm";
import type { AuditEvent } from "../../functions/audit/schemas";
import type { AuditEntry, AuditStore } from "../../functions/audit/store";
import type { Page } from "../../functions/inventory/store";
import type { Stored } from "../../shared/envelope";
import type { ListQuery } from "../../shared/list-query";
import { auditEvents } from "../db/schema";
import type { Db } from "../db/types";
import { pageOf, whereOf } from "./pg-util";

const columns = {
  subject: auditEvents.subject,
  resourceId: auditEvents.resourceId,
  route: auditEvents.route,
  method: auditEvents.method,
  status: auditEvents.status,
  requestId: auditEvents.requestId,
  action: auditEvents.action,
};

type Row = typeof auditEvents.$inferSelect;

function eventOf(r: Row): Stored<AuditEvent> {
  const id = String(r.id);
  return {
    id,
    // A record never changes: its id is its version.
    etag: id,
    createdAt: r.time,
    updatedAt: r.time,
    spec: {
      id,
      time: r.time.toISOString(),
      subject: r.subject,
      roles: r.roles,
      clientAddress: r.clientAddress,
      method: r.method,
      route: r.route,
      resourceId: r.resourceId,
      status: r.status,
      requestId: r.requestId,
      action: r.action,
      detail: r.detail,
    },
  };
}

/** The ISO instants of a range filter, as dates. */
const datesOf = (q: ListQuery, name: string) => (q.filters[name] ?? []).map((v) => new Date(String(v)));

export class PgAuditStore implements AuditStore {
  constructor(private readonly db: Db) {}

  async record(e: AuditEntry): Promise<void> {
    await this.db.insert(auditEvents).values({
      ...(e.time ? { time: e.time } : {}),
      subject: e.subject,
      roles: e.roles,
      clientAddress: e.clientAddress,
      method: e.method,
      route: e.route,
      resourceId: e.resourceId,
      status: e.status,
      requestId: e.requestId,
      action: e.action,
      detail: e.detail ?? null,
    });
  }

  async list(q: ListQuery): Promise<Page<AuditEvent>> {
    const extra: SQL[] = [];
    // Like every filter, several values mean any of them: since the earliest, until the latest.
    const since = datesOf(q, "since");
    if (since.length) extra.push(gte(auditEvents.time, new Date(Math.min(...since.map(Number)))));
    const until = datesOf(q, "until");
    if (until.length) extra.push(lt(auditEvents.time, new Date(Math.max(...until.map(Number)))));
    // Records of one millisecond keep the order they were written in.
    const order = q.sort.desc
      ? [desc(auditEvents.time), desc(auditEvents.id)]
      : [asc(auditEvents.time), asc(auditEvents.id)];
    const { rows, total } = await pageOf(this.db, auditEvents, whereOf(q, columns, extra), order, q);
    return { rows: rows.map(eventOf), total };
  }

  async prune(before: Date): Promise<number> {
    // Counted in the database: the first prune after a long pause may delete many rows.
    const result = await this.db.execute(
      sql`with gone as (delete from ${auditEvents} where ${auditEvents.time} < ${before} returning 1)
          select count(*)::int as n from gone`,
    );
    const rows = Array.isArray(result) ? result : (result as { rows: { n: number }[] }).rows;
    return Number((rows[0] as { n?: number } | undefined)?.n ?? 0);
  }
}
