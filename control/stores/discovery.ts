/**
 * DiscoveryStore and DiscoveryQueue over Postgres (any drizzle pg driver):
 * targets, scans with their per-address results, and the queue agents
 * claim scans from. Target changes and scan state changes write their
 * events in the same transaction; per-address results do not (the final
 * event of a scan carries them all).
 */
import { and, eq, getTableColumns, inArray, isNotNull, isNull, lt, lte, sql } from "drizzle-orm";
import {
  type AddressResult,
  DISCOVERY_API_VERSION,
  FINAL_SCAN_STATES,
  SCAN_KIND,
  type Scan,
  type ScanState,
  TARGET_KIND,
  type Target,
  type TargetOptions,
} from "../../functions/discovery/schemas";
import type { ClaimedScan, DiscoveryQueue, DiscoveryStore, NewScan } from "../../functions/discovery/store";
import type { Page } from "../../functions/inventory/store";
import { type Stored, toResource } from "../../shared/envelope";
import type { NewEvent } from "../../shared/events";
import type { ListQuery } from "../../shared/list-query";
import { ApiError, notFound } from "../../shared/problem";
import { activeTraceparent } from "../../shared/tracing";
import { credentials, discoveryScans, discoveryTargets } from "../db/schema";
import type { Db, Tx } from "../db/types";
import { appendEvents } from "./outbox";
import {
  isUuid,
  matchForUpdate,
  newEtag,
  orderOf,
  pageOf,
  raceError,
  resourceReads,
  storedOf,
  whereOf,
} from "./pg-util";

type TargetRow = typeof discoveryTargets.$inferSelect;
type ScanRow = typeof discoveryScans.$inferSelect;

const targetColumns = {
  id: discoveryTargets.id,
  name: discoveryTargets.name,
  credentialId: discoveryTargets.credentialId,
  site: discoveryTargets.site,
  createdAt: discoveryTargets.createdAt,
  updatedAt: discoveryTargets.updatedAt,
};

const scanColumns = {
  state: discoveryScans.state,
  dryRun: discoveryScans.dryRun,
  requestedBy: discoveryScans.requestedBy,
  createdAt: discoveryScans.createdAt,
  updatedAt: discoveryScans.updatedAt,
};

const targetSpecOf = (r: TargetRow): Target => ({
  id: r.id,
  name: r.name,
  addresses: r.addresses,
  driver: r.driver as Target["driver"],
  credentialId: r.credentialId,
  site: r.site,
  options: r.options as TargetOptions,
  schedule: r.scheduleMinutes === null ? null : { everyMinutes: r.scheduleMinutes },
  nextScanAt: r.nextScanAt?.toISOString() ?? null,
});

/** A target's columns; `nextScanAt` is the store's to set (see `createTarget`, `updateTarget`). */
const targetValues = ({ schedule, nextScanAt: _, ...t }: Target) => ({
  ...t,
  scheduleMinutes: schedule?.everyMinutes ?? null,
});

const targetOf = (r: TargetRow): Stored<Target> => storedOf(r, targetSpecOf(r));

function scanOf(r: ScanRow, withResults: boolean): Stored<Scan> {
  return storedOf(r, {
    id: r.id,
    targetIds: r.targetIds,
    state: r.state as ScanState,
    dryRun: r.dryRun,
    site: r.site,
    requestedBy: r.requestedBy,
    message: r.message,
    startedAt: r.startedAt?.toISOString() ?? null,
    finishedAt: r.finishedAt?.toISOString() ?? null,
    // Results recorded before ipAddressesAdded existed read as having added none.
    ...(withResults
      ? {
          results: (r.results as AddressResult[]).map((x) => ({
            ...x,
            ipAddressesAdded: x.ipAddressesAdded ?? [],
          })),
        }
      : {}),
  });
}

const targetChanged = (action: "created" | "updated", row: Stored<Target>): NewEvent => ({
  service: "discovery",
  resource: "targets",
  action,
  subject: row.id,
  data: toResource(TARGET_KIND, DISCOVERY_API_VERSION, row),
});

const scanChanged = (action: "created" | "updated", r: ScanRow): NewEvent => ({
  service: "discovery",
  resource: "scans",
  action,
  subject: r.id,
  data: toResource(SCAN_KIND, DISCOVERY_API_VERSION, scanOf(r, true)),
});

const targetReads = resourceReads({
  table: discoveryTargets,
  key: discoveryTargets.id,
  columns: targetColumns,
  toStored: targetOf,
});

export class PgDiscoveryStore implements DiscoveryStore, DiscoveryQueue {
  constructor(private readonly db: Db) {}

  // ---------- targets ----------

  listTargets(q: ListQuery) {
    return targetReads.list(this.db, q);
  }

  getTarget(id: string) {
    return targetReads.get(this.db, id);
  }

  async getTargets(ids: string[]) {
    if (ids.length === 0) return [];
    const rows = await this.db.select().from(discoveryTargets).where(inArray(discoveryTargets.id, ids));
    return rows.map(targetOf);
  }

  async createTarget(t: Target) {
    try {
      return await this.db.transaction(async (tx) => {
        const [same] = await tx
          .select({ id: discoveryTargets.id })
          .from(discoveryTargets)
          .where(eq(discoveryTargets.id, t.id));
        if (same)
          throw new ApiError("conflict", `discovery target '${t.id}' already exists; replace it instead`, {
            errors: [{ field: "id", message: "already exists" }],
          });
        await checkCredential(tx, t.credentialId);
        const now = new Date();
        const [row] = await tx
          .insert(discoveryTargets)
          // A scheduled target is scanned at once, then every `everyMinutes`.
          .values({
            ...targetValues(t),
            nextScanAt: t.schedule ? now : null,
            etag: newEtag(),
            createdAt: now,
            updatedAt: now,
          })
          .returning();
        const stored = targetOf(row!);
        await appendEvents(tx, [targetChanged("created", stored)]);
        return stored;
      });
    } catch (e) {
      throw raceError(e, { unique: `A concurrent request created discovery target '${t.id}'` });
    }
  }

  async updateTarget(t: Target, ifMatch: string) {
    return this.db.transaction(async (tx) => {
      const current = await matchForUpdate(
        tx
          .select({
            etag: discoveryTargets.etag,
            scheduleMinutes: discoveryTargets.scheduleMinutes,
            nextScanAt: discoveryTargets.nextScanAt,
          })
          .from(discoveryTargets)
          .where(eq(discoveryTargets.id, t.id))
          .for("update"),
        ifMatch,
        "discovery target",
        t.id,
      );
      await checkCredential(tx, t.credentialId);
      const now = new Date();
      const values = targetValues(t);
      // A new or changed schedule starts over (a scan at once); an unchanged one keeps its turn.
      const nextScanAt =
        values.scheduleMinutes === null
          ? null
          : values.scheduleMinutes === current.scheduleMinutes
            ? current.nextScanAt
            : now;
      const [row] = await tx
        .update(discoveryTargets)
        .set({ ...values, nextScanAt, etag: newEtag(), updatedAt: now })
        .where(eq(discoveryTargets.id, t.id))
        .returning();
      const stored = targetOf(row!);
      await appendEvents(tx, [targetChanged("updated", stored)]);
      return stored;
    });
  }

  async deleteTarget(id: string) {
    await this.db.transaction(async (tx) => {
      const gone = await tx
        .delete(discoveryTargets)
        .where(eq(discoveryTargets.id, id))
        .returning({ id: discoveryTargets.id });
      if (gone.length === 0) throw notFound("discovery target", id);
      await appendEvents(tx, [
        { service: "discovery", resource: "targets", action: "deleted", subject: id, data: { id } },
      ]);
    });
  }

  // ---------- scans ----------

  async createScan(s: NewScan) {
    return this.db.transaction(async (tx) => {
      const now = new Date();
      const [row] = await tx
        .insert(discoveryScans)
        .values({
          ...s,
          state: "new",
          traceparent: activeTraceparent() ?? null,
          etag: newEtag(),
          createdAt: now,
          updatedAt: now,
        })
        .returning();
      await appendEvents(tx, [scanChanged("created", row!)]);
      return scanOf(row!, true);
    });
  }

  async listScans(q: ListQuery): Promise<Page<Scan>> {
    const { rows, total } = await pageOf(
      this.db,
      discoveryScans,
      whereOf(q, scanColumns),
      orderOf(q, scanColumns, discoveryScans.id),
      q,
    );
    return { rows: rows.map((r) => scanOf(r, false)), total };
  }

  async getScan(id: string, opts: { results?: boolean } = {}) {
    if (!isUuid(id)) return undefined;
    const withResults = opts.results !== false;
    // Without results the column is not read at all: it grows with every address of a big scan.
    const { results: _, ...others } = getTableColumns(discoveryScans);
    const [row] = withResults
      ? await this.db.select().from(discoveryScans).where(eq(discoveryScans.id, id))
      : await this.db.select(others).from(discoveryScans).where(eq(discoveryScans.id, id));
    return row ? scanOf({ results: [], ...row }, withResults) : undefined;
  }

  async cancelScan(id: string) {
    if (!isUuid(id)) throw notFound("scan", id);
    return this.db.transaction(async (tx) => {
      const [row] = await tx.select().from(discoveryScans).where(eq(discoveryScans.id, id)).for("update");
      if (!row) throw notFound("scan", id);
      const state = row.state as ScanState;
      if (FINAL_SCAN_STATES.includes(state))
        throw new ApiError("conflict", `scan '${id}' is already ${state}: there is nothing to cancel`);
      const now = new Date();
      const [next] = await tx
        .update(discoveryScans)
        .set({
          state: "cancelled",
          message: state === "new" ? "cancelled before start" : "cancelled while running",
          finishedAt: now,
          etag: newEtag(),
          updatedAt: now,
        })
        .where(eq(discoveryScans.id, id))
        .returning();
      await appendEvents(tx, [scanChanged("updated", next!)]);
      return scanOf(next!, true);
    });
  }

  // ---------- the queue ----------

  async claim(site: string | null, limit: number): Promise<ClaimedScan[]> {
    return this.db.transaction(async (tx) => {
      const rows = await tx
        .select()
        .from(discoveryScans)
        .where(
          and(
            eq(discoveryScans.state, "new"),
            site === null ? isNull(discoveryScans.site) : eq(discoveryScans.site, site),
          ),
        )
        .orderBy(discoveryScans.createdAt)
        .limit(limit)
        .for("update", { skipLocked: true });
      const out: ClaimedScan[] = [];
      const now = new Date();
      for (const r of rows) {
        const [started] = await tx
          .update(discoveryScans)
          .set({ state: "running", startedAt: now, etag: newEtag(), updatedAt: now })
          .where(eq(discoveryScans.id, r.id))
          .returning();
        await appendEvents(tx, [scanChanged("updated", started!)]);
        const targets =
          r.targetIds.length === 0
            ? []
            : await tx.select().from(discoveryTargets).where(inArray(discoveryTargets.id, r.targetIds));
        const byId = new Map(targets.map((t) => [t.id, targetSpecOf(t)]));
        out.push({
          id: r.id,
          dryRun: r.dryRun,
          ...(r.traceparent ? { traceparent: r.traceparent } : {}),
          targets: r.targetIds.flatMap((id) => (byId.has(id) ? [byId.get(id)!] : [])),
        });
      }
      return out;
    });
  }

  async startDue(now: Date) {
    return this.db.transaction(async (tx) => {
      const due = await tx
        .select()
        .from(discoveryTargets)
        .where(and(isNotNull(discoveryTargets.scheduleMinutes), lte(discoveryTargets.nextScanAt, now)))
        .for("update", { skipLocked: true });
      const started: Stored<Scan>[] = [];
      for (const t of due) {
        await tx
          .update(discoveryTargets)
          .set({ nextScanAt: new Date(now.getTime() + t.scheduleMinutes! * 60_000) })
          .where(eq(discoveryTargets.id, t.id));
        const [open] = await tx
          .select({ id: discoveryScans.id })
          .from(discoveryScans)
          .where(
            and(
              inArray(discoveryScans.state, ["new", "running"]),
              sql`${discoveryScans.targetIds} @> ARRAY[${t.id}]::text[]`,
            ),
          )
          .limit(1);
        // Still scanning since its last turn (a slow or unreachable site): this turn is skipped.
        if (open) continue;
        const [row] = await tx
          .insert(discoveryScans)
          .values({
            id: crypto.randomUUID(),
            targetIds: [t.id],
            dryRun: false,
            site: t.site,
            requestedBy: "schedule",
            state: "new",
            etag: newEtag(),
            createdAt: now,
            updatedAt: now,
          })
          .returning();
        await appendEvents(tx, [scanChanged("created", row!)]);
        started.push(scanOf(row!, true));
      }
      return started;
    });
  }

  async pendingSites() {
    return this.sitesIn("new");
  }

  async runningSites() {
    return this.sitesIn("running");
  }

  private async sitesIn(state: ScanState) {
    const rows = await this.db
      .selectDistinct({ site: discoveryScans.site })
      .from(discoveryScans)
      .where(and(eq(discoveryScans.state, state), isNotNull(discoveryScans.site)));
    return rows.map((r) => r.site!);
  }

  async release(scanId: string) {
    await this.db.transaction(async (tx) => {
      const now = new Date();
      const [row] = await tx
        .update(discoveryScans)
        .set({ state: "new", startedAt: null, etag: newEtag(), updatedAt: now })
        .where(and(eq(discoveryScans.id, scanId), eq(discoveryScans.state, "running")))
        .returning();
      if (row) await appendEvents(tx, [scanChanged("updated", row)]);
    });
  }

  async record(scanId: string, result: AddressResult) {
    const rows = await this.db
      .update(discoveryScans)
      .set({
        results: sql`${discoveryScans.results} || ${JSON.stringify([result])}::jsonb`,
        etag: newEtag(),
        updatedAt: new Date(),
      })
      .where(and(eq(discoveryScans.id, scanId), eq(discoveryScans.state, "running")))
      .returning({ id: discoveryScans.id });
    return rows.length > 0;
  }

  async finish(scanId: string, state: "completed" | "failed", message: string) {
    await this.db.transaction(async (tx) => {
      const now = new Date();
      const [row] = await tx
        .update(discoveryScans)
        .set({ state, message, finishedAt: now, etag: newEtag(), updatedAt: now })
        .where(and(eq(discoveryScans.id, scanId), eq(discoveryScans.state, "running")))
        .returning();
      if (row) await appendEvents(tx, [scanChanged("updated", row)]);
    });
  }

  async failAbandoned(site: string | null, running: ReadonlySet<string>, staleBefore: Date) {
    return this.db.transaction(async (tx) => {
      const rows = await tx
        .select({ id: discoveryScans.id })
        .from(discoveryScans)
        .where(
          and(
            eq(discoveryScans.state, "running"),
            site === null ? isNull(discoveryScans.site) : eq(discoveryScans.site, site),
            lt(discoveryScans.updatedAt, staleBefore),
          ),
        )
        .for("update", { skipLocked: true });
      let n = 0;
      for (const r of rows) {
        if (running.has(r.id)) continue;
        const now = new Date();
        const [row] = await tx
          .update(discoveryScans)
          .set({
            state: "failed",
            message: "agent restarted: the process running this scan stopped before it finished",
            finishedAt: now,
            etag: newEtag(),
            updatedAt: now,
          })
          .where(eq(discoveryScans.id, r.id))
          .returning();
        await appendEvents(tx, [scanChanged("updated", row!)]);
        n++;
      }
      return n;
    });
  }
}

async function checkCredential(tx: Tx, credentialId: string) {
  const [cred] = await tx
    .select({ id: credentials.id })
    .from(credentials)
    .where(eq(credentials.id, credentialId));
  if (!cred)
    throw new ApiError("validation", `credential '${credentialId}' does not exist`, {
      errors: [
        {
          field: "credentialId",
          message: `credential '${credentialId}' does not exist (store it with POST /auth/v1/credentials)`,
        },
      ],
    });
}
