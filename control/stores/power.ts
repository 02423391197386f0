/**
 * PowerStore and PowerQueue over Postgres (any drizzle pg driver): BMC
 * endpoints, transitions and their tasks, the queue agents claim tasks
 * from, and the power status read model. Every change of an endpoint and
 * every change of a transition's state writes its event in the same
 * transaction; task progress does not (it would flood the stream), but the
 * completion event carries every task's result.
 */
import { and, asc, count, desc, eq, inArray, isNotNull, isNull, lt, or, sql } from "drizzle-orm";
import { alias } from "drizzle-orm/pg-core";
import type { Page } from "../../functions/inventory/store";
import {
  BMC_KIND,
  type BmcEndpoint,
  FINAL_TRANSITION_STATES,
  POWER_API_VERSION,
  type PowerOperation,
  type PowerStatus,
  TASK_STATES,
  type Task,
  type TaskCounts,
  type TaskState,
  TRANSITION_KIND,
  type Transition,
  type TransitionState,
} from "../../functions/power/schemas";
import type {
  ClaimedJob,
  NewTask,
  NewTransition,
  PowerQueue,
  PowerStatusQuery,
  PowerStore,
  PowerTarget,
  TaskResult,
  TaskUpdate,
} from "../../functions/power/store";
import { type Stored, toResource } from "../../shared/envelope";
import type { NewEvent } from "../../shared/events";
import type { ListQuery } from "../../shared/list-query";
import { ApiError, notFound } from "../../shared/problem";
import { bmcEndpoints, components, credentials, groupMembers, powerTasks, transitions } from "../db/schema";
import type { Db } from "../db/types";
import { appendEvents } from "./outbox";
import { chunks, isUuid, newEtag, orderOf, pageOf, raceError, whereOf } from "./pg-util";

type BmcRow = typeof bmcEndpoints.$inferSelect;
type TransitionRow = typeof transitions.$inferSelect;
type TaskRow = typeof powerTasks.$inferSelect;
type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];
type Q = Db | Tx;

/** Tasks in these states still have to run. */
const OPEN: TaskState[] = ["new", "in-progress"];

const bmcColumns = {
  id: bmcEndpoints.id,
  address: bmcEndpoints.address,
  credentialId: bmcEndpoints.credentialId,
  auth: bmcEndpoints.auth,
  insecure: bmcEndpoints.insecure,
  site: bmcEndpoints.site,
  createdAt: bmcEndpoints.createdAt,
  updatedAt: bmcEndpoints.updatedAt,
};

const transitionColumns = {
  id: transitions.id,
  operation: transitions.operation,
  state: transitions.state,
  dryRun: transitions.dryRun,
  requestedBy: transitions.requestedBy,
  createdAt: transitions.createdAt,
  updatedAt: transitions.updatedAt,
};

const bmcSpecOf = (r: BmcRow): BmcEndpoint => ({
  id: r.id,
  address: r.address,
  credentialId: r.credentialId,
  auth: r.auth as BmcEndpoint["auth"],
  insecure: r.insecure,
  site: r.site,
});

/** The BMC endpoints of these task rows as they are now, by id (deleted ones absent). */
async function endpointsOf(tx: Tx, rows: { bmcId: string | null }[]): Promise<Map<string, BmcEndpoint>> {
  const ids = [...new Set(rows.flatMap((r) => (r.bmcId === null ? [] : [r.bmcId])))];
  if (ids.length === 0) return new Map();
  const found = await tx.select().from(bmcEndpoints).where(inArray(bmcEndpoints.id, ids));
  return new Map(found.map((b) => [b.id, bmcSpecOf(b)]));
}

const bmcOf = (r: BmcRow): Stored<BmcEndpoint> => ({
  id: r.id,
  etag: r.etag,
  createdAt: r.createdAt,
  updatedAt: r.updatedAt,
  spec: bmcSpecOf(r),
});

const taskOf = (r: TaskRow): Task => ({
  id: r.id,
  xname: r.xname,
  bmcId: r.bmcId,
  state: r.state as TaskState,
  message: r.message,
  powerState: r.powerState,
  site: r.site,
  updatedAt: r.updatedAt.toISOString(),
});

const emptyCounts = (): TaskCounts =>
  Object.fromEntries([["total", 0], ...TASK_STATES.map((s) => [s, 0])]) as TaskCounts;

function countsOf(states: Iterable<[TaskState, number]>): TaskCounts {
  const c = emptyCounts();
  for (const [s, n] of states) {
    c[s] += n;
    c.total += n;
  }
  return c;
}

function transitionOf(r: TransitionRow, counts: TaskCounts, tasks?: Task[]): Stored<Transition> {
  return {
    id: r.id,
    etag: r.etag,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    spec: {
      id: r.id,
      operation: r.operation as PowerOperation,
      taskDeadlineMinutes: r.taskDeadlineMinutes,
      state: r.state as TransitionState,
      dryRun: r.dryRun,
      requestedBy: r.requestedBy,
      completedAt: r.completedAt?.toISOString() ?? null,
      taskCounts: counts,
      ...(tasks ? { tasks } : {}),
    },
  };
}

const bmcChanged = (action: "created" | "updated", row: Stored<BmcEndpoint>): NewEvent => ({
  service: "power",
  resource: "bmcs",
  action,
  subject: row.id,
  data: toResource(BMC_KIND, POWER_API_VERSION, row),
});

const transitionChanged = (action: "created" | "updated", row: Stored<Transition>): NewEvent => ({
  service: "power",
  resource: "transitions",
  action,
  subject: row.id,
  data: toResource(TRANSITION_KIND, POWER_API_VERSION, row),
});

export class PgPowerStore implements PowerStore, PowerQueue {
  constructor(private readonly db: Db) {}

  // ---------- BMC endpoints ----------

  async listBmcs(q: ListQuery): Promise<Page<BmcEndpoint>> {
    const { rows, total } = await pageOf(
      this.db,
      bmcEndpoints,
      whereOf(q, bmcColumns),
      orderOf(q, bmcColumns, bmcEndpoints.id),
      q,
    );
    return { rows: rows.map(bmcOf), total };
  }

  async getBmc(id: string) {
    const [row] = await this.db.select().from(bmcEndpoints).where(eq(bmcEndpoints.id, id));
    return row ? bmcOf(row) : undefined;
  }

  async createBmc(b: BmcEndpoint) {
    try {
      return await this.db.transaction(async (tx) => {
        const [same] = await tx
          .select({ id: bmcEndpoints.id })
          .from(bmcEndpoints)
          .where(eq(bmcEndpoints.id, b.id));
        if (same)
          throw new ApiError("conflict", `BMC endpoint '${b.id}' already exists; change it instead`, {
            errors: [{ field: "id", message: "already exists" }],
          });
        await checkBmcRefs(tx, b);
        const now = new Date();
        const [row] = await tx
          .insert(bmcEndpoints)
          .values({ ...b, etag: newEtag(), createdAt: now, updatedAt: now })
          .returning();
        const stored = bmcOf(row!);
        await appendEvents(tx, [bmcChanged("created", stored)]);
        return stored;
      });
    } catch (e) {
      throw raceError(e, { unique: `A concurrent request created BMC endpoint '${b.id}'` });
    }
  }

  async updateBmc(b: BmcEndpoint, ifMatch: string) {
    return this.db.transaction(async (tx) => {
      const [current] = await tx
        .select({ etag: bmcEndpoints.etag })
        .from(bmcEndpoints)
        .where(eq(bmcEndpoints.id, b.id))
        .for("update");
      if (!current) throw notFound("BMC endpoint", b.id);
      if (current.etag !== ifMatch)
        throw new ApiError(
          "precondition-failed",
          `BMC endpoint '${b.id}' has changed since you read it (If-Match does not match)`,
        );
      await checkBmcRefs(tx, b);
      const [row] = await tx
        .update(bmcEndpoints)
        .set({ ...b, etag: newEtag(), updatedAt: new Date() })
        .where(eq(bmcEndpoints.id, b.id))
        .returning();
      const stored = bmcOf(row!);
      await appendEvents(tx, [bmcChanged("updated", stored)]);
      return stored;
    });
  }

  async deleteBmc(id: string) {
    await this.db.transaction(async (tx) => {
      const gone = await tx
        .delete(bmcEndpoints)
        .where(eq(bmcEndpoints.id, id))
        .returning({ id: bmcEndpoints.id });
      if (gone.length === 0) throw notFound("BMC endpoint", id);
      await appendEvents(tx, [
        { service: "power", resource: "bmcs", action: "deleted", subject: id, data: { id } },
      ]);
    });
  }

  // ---------- resolution ----------

  async targets(ids: string[]): Promise<PowerTarget[]> {
    if (ids.length === 0) return [];
    const parent = alias(components, "parent");
    const out: PowerTarget[] = [];
    for (const part of chunks(ids, 5000)) {
      const rows = await this.db
        .select({
          id: components.id,
          type: components.type,
          parentId: parent.id,
          parentType: parent.type,
          endpointId: bmcEndpoints.id,
          site: bmcEndpoints.site,
          address: bmcEndpoints.address,
          credentialId: bmcEndpoints.credentialId,
          credentialFound: credentials.id,
        })
        .from(components)
        .leftJoin(parent, eq(parent.id, components.parentId))
        .leftJoin(bmcEndpoints, eq(bmcEndpoints.id, parent.id))
        .leftJoin(credentials, eq(credentials.id, bmcEndpoints.credentialId))
        .where(inArray(components.id, part));
      for (const r of rows)
        out.push({
          id: r.id,
          type: r.type,
          parent: r.parentId === null ? null : { id: r.parentId, type: r.parentType! },
          endpoint:
            r.endpointId === null
              ? null
              : { id: r.endpointId, site: r.site, address: r.address!, credentialId: r.credentialId! },
          credentialExists: r.credentialFound !== null,
        });
    }
    return out;
  }

  // ---------- transitions ----------

  async createTransition(t: NewTransition, tasks: NewTask[]) {
    return this.db.transaction(async (tx) => {
      const now = new Date();
      const done = tasks.every((k) => k.state !== "new");
      const [row] = await tx
        .insert(transitions)
        .values({
          id: t.id,
          operation: t.operation,
          taskDeadlineMinutes: t.taskDeadlineMinutes,
          state: done ? "completed" : "new",
          dryRun: t.dryRun,
          requestedBy: t.requestedBy,
          completedAt: done ? now : null,
          etag: newEtag(),
          createdAt: now,
          updatedAt: now,
        })
        .returning();
      const values = tasks.map((k, i) => ({
        id: crypto.randomUUID(),
        transitionId: t.id,
        position: i,
        xname: k.xname,
        bmcId: k.bmcId,
        state: k.state,
        message: k.message,
        site: k.site,
        deadlineAt: k.state === "new" ? t.deadlineAt : null,
        updatedAt: now,
      }));
      const stored: TaskRow[] = [];
      // 10 parameters per row; Postgres takes at most 65535 per statement.
      for (const part of chunks(values, 5000))
        stored.push(...(await tx.insert(powerTasks).values(part).returning()));
      const result = transitionOf(row!, countsOf(tasks.map((k) => [k.state, 1])), stored.map(taskOf));
      await appendEvents(tx, [transitionChanged("created", result)]);
      return result;
    });
  }

  async listTransitions(q: ListQuery): Promise<Page<Transition>> {
    const { rows, total } = await pageOf(
      this.db,
      transitions,
      whereOf(q, transitionColumns),
      orderOf(q, transitionColumns, transitions.id),
      q,
    );
    const counts = await this.countsFor(
      this.db,
      rows.map((r) => r.id),
    );
    return { rows: rows.map((r) => transitionOf(r, counts.get(r.id) ?? emptyCounts())), total };
  }

  async getTransition(id: string) {
    if (!isUuid(id)) return undefined;
    return this.readTransition(this.db, id);
  }

  async abortTransition(id: string) {
    if (!isUuid(id)) throw notFound("transition", id);
    return this.db.transaction(async (tx) => {
      const [row] = await tx.select().from(transitions).where(eq(transitions.id, id)).for("update");
      if (!row) throw notFound("transition", id);
      const state = row.state as TransitionState;
      if (FINAL_TRANSITION_STATES.includes(state))
        throw new ApiError("conflict", `transition '${id}' is already ${state}: there is nothing to abort`);
      if (state === "abort-signaled") return (await this.readTransition(tx, id))!;
      const now = new Date();
      await tx
        .update(powerTasks)
        .set({ state: "aborted", message: "aborted before start", updatedAt: now, deadlineAt: null })
        .where(and(eq(powerTasks.transitionId, id), eq(powerTasks.state, "new")));
      const [running] = await tx
        .select({ n: count() })
        .from(powerTasks)
        .where(and(eq(powerTasks.transitionId, id), eq(powerTasks.state, "in-progress")));
      const next: TransitionState = Number(running?.n ?? 0) > 0 ? "abort-signaled" : "aborted";
      await tx
        .update(transitions)
        .set({ state: next, etag: newEtag(), updatedAt: now, completedAt: next === "aborted" ? now : null })
        .where(eq(transitions.id, id));
      const result = (await this.readTransition(tx, id))!;
      await appendEvents(tx, [transitionChanged("updated", result)]);
      return result;
    });
  }

  private async readTransition(q: Q, id: string) {
    const [row] = await q.select().from(transitions).where(eq(transitions.id, id));
    if (!row) return undefined;
    const tasks = await q
      .select()
      .from(powerTasks)
      .where(eq(powerTasks.transitionId, id))
      .orderBy(asc(powerTasks.position));
    return transitionOf(row, countsOf(tasks.map((t) => [t.state as TaskState, 1])), tasks.map(taskOf));
  }

  private async countsFor(q: Q, ids: string[]): Promise<Map<string, TaskCounts>> {
    const out = new Map<string, TaskCounts>();
    if (ids.length === 0) return out;
    const rows = await q
      .select({ id: powerTasks.transitionId, state: powerTasks.state, n: count() })
      .from(powerTasks)
      .where(inArray(powerTasks.transitionId, ids))
      .groupBy(powerTasks.transitionId, powerTasks.state);
    for (const r of rows) {
      const c = out.get(r.id) ?? emptyCounts();
      c[r.state as TaskState] += Number(r.n);
      c.total += Number(r.n);
      out.set(r.id, c);
    }
    return out;
  }

  /**
   * After tasks of these transitions changed: a transition with no task left
   * to run becomes completed (aborted when abort-signaled), with its event;
   * the others get a new etag, since their tasks are part of what they show.
   */
  private async settle(tx: Tx, ids: string[]) {
    const now = new Date();
    for (const id of [...new Set(ids)].sort()) {
      const [row] = await tx.select().from(transitions).where(eq(transitions.id, id)).for("update");
      if (!row) continue;
      const [open] = await tx
        .select({ n: count() })
        .from(powerTasks)
        .where(and(eq(powerTasks.transitionId, id), inArray(powerTasks.state, OPEN)));
      const state = row.state as TransitionState;
      const finished = Number(open?.n ?? 0) === 0 && !FINAL_TRANSITION_STATES.includes(state);
      if (!finished) {
        await tx.update(transitions).set({ etag: newEtag(), updatedAt: now }).where(eq(transitions.id, id));
        continue;
      }
      await tx
        .update(transitions)
        .set({
          state: state === "abort-signaled" ? "aborted" : "completed",
          completedAt: now,
          etag: newEtag(),
          updatedAt: now,
        })
        .where(eq(transitions.id, id));
      await appendEvents(tx, [transitionChanged("updated", (await this.readTransition(tx, id))!)]);
    }
  }

  // ---------- the queue ----------

  async claim(
    site: string | null,
    limit: number,
    deadlineAt: (job: { operation: PowerOperation; taskDeadlineMinutes: number }) => Date,
  ): Promise<ClaimedJob[]> {
    // An alias, because drizzle qualifies the table in `for update of`, which Postgres refuses.
    const task = alias(powerTasks, "task");
    return this.db.transaction(async (tx) => {
      const rows = await tx
        .select({
          id: task.id,
          xname: task.xname,
          bmcId: task.bmcId,
          transitionId: task.transitionId,
          operation: transitions.operation,
          taskDeadlineMinutes: transitions.taskDeadlineMinutes,
        })
        .from(task)
        .innerJoin(transitions, eq(transitions.id, task.transitionId))
        .where(
          and(
            eq(task.state, "new"),
            site === null ? isNull(task.site) : eq(task.site, site),
            inArray(transitions.state, ["new", "in-progress"]),
          ),
        )
        .orderBy(asc(transitions.createdAt), asc(task.transitionId), asc(task.position))
        .limit(limit)
        .for("update", { of: task, skipLocked: true });
      if (rows.length === 0) return [];
      const now = new Date();
      const jobs = new Map<string, ClaimedJob>();
      for (const r of rows) {
        let job = jobs.get(r.transitionId);
        if (!job) {
          job = {
            transitionId: r.transitionId,
            operation: r.operation as PowerOperation,
            taskDeadlineMinutes: r.taskDeadlineMinutes,
            tasks: [],
          };
          jobs.set(r.transitionId, job);
        }
        job.tasks.push({ id: r.id, xname: r.xname, bmcId: r.bmcId, bmc: null });
      }
      for (const job of jobs.values())
        await tx
          .update(powerTasks)
          .set({ state: "in-progress", message: "started", deadlineAt: deadlineAt(job), updatedAt: now })
          .where(
            inArray(
              powerTasks.id,
              job.tasks.map((t) => t.id),
            ),
          );
      const endpoints = await endpointsOf(tx, rows);
      for (const job of jobs.values())
        for (const t of job.tasks) t.bmc = t.bmcId === null ? null : (endpoints.get(t.bmcId) ?? null);
      const started = await tx
        .update(transitions)
        .set({ state: "in-progress", etag: newEtag(), updatedAt: now })
        .where(and(inArray(transitions.id, [...jobs.keys()]), eq(transitions.state, "new")))
        .returning({ id: transitions.id });
      for (const s of started)
        await appendEvents(tx, [transitionChanged("updated", (await this.readTransition(tx, s.id))!)]);
      return [...jobs.values()];
    });
  }

  async activeSites() {
    const rows = await this.db
      .selectDistinct({ site: powerTasks.site })
      .from(powerTasks)
      .innerJoin(transitions, eq(transitions.id, powerTasks.transitionId))
      .where(
        and(
          isNotNull(powerTasks.site),
          inArray(powerTasks.state, OPEN),
          inArray(transitions.state, ["new", "in-progress", "abort-signaled"]),
        ),
      );
    return rows.map((r) => r.site!);
  }

  async release(taskIds: string[]) {
    if (taskIds.length === 0) return;
    await this.db
      .update(powerTasks)
      .set({ state: "new", message: "waiting for an agent", updatedAt: new Date() })
      .where(and(inArray(powerTasks.id, taskIds), eq(powerTasks.state, "in-progress")));
  }

  async lease(
    transitionId: string,
    taskIds: string[],
    deadlineAt: (job: { operation: PowerOperation; taskDeadlineMinutes: number }) => Date,
  ): Promise<ClaimedJob | undefined> {
    return this.db.transaction(async (tx) => {
      const [t] = await tx
        .select({ operation: transitions.operation, taskDeadlineMinutes: transitions.taskDeadlineMinutes })
        .from(transitions)
        .where(eq(transitions.id, transitionId));
      if (!t) return undefined;
      const job: ClaimedJob = {
        transitionId,
        operation: t.operation as PowerOperation,
        taskDeadlineMinutes: t.taskDeadlineMinutes,
        tasks: [],
      };
      if (taskIds.length === 0) return job;
      const rows = await tx
        .update(powerTasks)
        .set({ deadlineAt: deadlineAt(job), updatedAt: new Date() })
        .where(
          and(
            eq(powerTasks.transitionId, transitionId),
            inArray(powerTasks.id, taskIds),
            eq(powerTasks.state, "in-progress"),
          ),
        )
        .returning({
          id: powerTasks.id,
          xname: powerTasks.xname,
          bmcId: powerTasks.bmcId,
          position: powerTasks.position,
        });
      rows.sort((a, b) => a.position - b.position);
      const endpoints = await endpointsOf(tx, rows);
      job.tasks = rows.map((r) => ({
        id: r.id,
        xname: r.xname,
        bmcId: r.bmcId,
        bmc: r.bmcId === null ? null : (endpoints.get(r.bmcId) ?? null),
      }));
      return job;
    });
  }

  async progress(updates: TaskUpdate[]) {
    if (updates.length === 0) return;
    await this.db.transaction(async (tx) => {
      const now = new Date();
      const touched: string[] = [];
      for (const u of updates) {
        const [r] = await tx
          .update(powerTasks)
          .set({
            message: u.message,
            ...(u.powerState !== undefined ? { powerState: u.powerState } : {}),
            updatedAt: now,
          })
          .where(and(eq(powerTasks.id, u.taskId), eq(powerTasks.state, "in-progress")))
          .returning({ transitionId: powerTasks.transitionId });
        if (r) touched.push(r.transitionId);
      }
      for (const id of new Set(touched))
        await tx.update(transitions).set({ etag: newEtag(), updatedAt: now }).where(eq(transitions.id, id));
    });
  }

  async finish(results: TaskResult[]) {
    if (results.length === 0) return;
    await this.db.transaction(async (tx) => {
      const now = new Date();
      const touched: string[] = [];
      for (const r of results) {
        const [row] = await tx
          .update(powerTasks)
          .set({
            state: r.state,
            message: r.message,
            ...(r.powerState !== undefined ? { powerState: r.powerState } : {}),
            deadlineAt: null,
            updatedAt: now,
          })
          .where(and(eq(powerTasks.id, r.taskId), inArray(powerTasks.state, OPEN)))
          .returning({ transitionId: powerTasks.transitionId });
        if (row) touched.push(row.transitionId);
      }
      await this.settle(tx, touched);
    });
  }

  async abortSignaled(transitionIds: string[]) {
    if (transitionIds.length === 0) return [];
    const rows = await this.db
      .select({ id: transitions.id })
      .from(transitions)
      .where(and(inArray(transitions.id, transitionIds), eq(transitions.state, "abort-signaled")));
    return rows.map((r) => r.id);
  }

  async failOverdue(
    site: string | null,
    running: ReadonlySet<string>,
    now: Date,
    opts: { unclaimedOnly?: boolean } = {},
  ) {
    return this.db.transaction(async (tx) => {
      const rows = await tx
        .select({
          id: powerTasks.id,
          state: powerTasks.state,
          site: powerTasks.site,
          transitionId: powerTasks.transitionId,
        })
        .from(powerTasks)
        .where(
          and(
            lt(powerTasks.deadlineAt, now),
            opts.unclaimedOnly
              ? eq(powerTasks.state, "new")
              : or(
                  eq(powerTasks.state, "new"),
                  and(
                    eq(powerTasks.state, "in-progress"),
                    site === null ? isNull(powerTasks.site) : eq(powerTasks.site, site),
                  ),
                ),
          ),
        )
        .for("update", { skipLocked: true });
      const overdue = rows.filter((r) => !running.has(r.id));
      for (const r of overdue) {
        const message =
          r.state === "in-progress"
            ? r.site === null
              ? "agent restarted; state unknown (the process running this task stopped before it finished)"
              : `the edge agent of site '${r.site}' reported no result before the deadline; state unknown (the edge stopped, restarted or lost the control plane)`
            : r.site === null
              ? "no agent took this task before its deadline"
              : `no edge agent of site '${r.site}' took this task before its deadline (is an edge with CHAMICORE_EDGE_SITE=${r.site} running, and is NATS_URL set on the control plane and the edge?)`;
        await tx
          .update(powerTasks)
          .set({ state: "failed", message, deadlineAt: null, updatedAt: now })
          .where(eq(powerTasks.id, r.id));
      }
      await this.settle(
        tx,
        overdue.map((r) => r.transitionId),
      );
      return overdue.length;
    });
  }

  // ---------- power status ----------

  async powerStatus(q: PowerStatusQuery): Promise<{ rows: PowerStatus[]; total: number }> {
    const latest = this.db
      .select({
        powerState: powerTasks.powerState,
        at: sql<Date>`${powerTasks.updatedAt}`.as("task_at"),
        transitionId: powerTasks.transitionId,
        taskState: sql<string>`${powerTasks.state}`.as("task_state"),
        message: powerTasks.message,
        operation: transitions.operation,
      })
      .from(powerTasks)
      .innerJoin(transitions, eq(transitions.id, powerTasks.transitionId))
      .where(and(eq(powerTasks.xname, components.id), isNotNull(powerTasks.powerState)))
      .orderBy(desc(powerTasks.updatedAt))
      .limit(1)
      .as("latest");
    const newerTask = sql`${latest.at} is not null and (${components.state} not in ('On', 'Ready', 'Off') or ${latest.at} >= ${components.updatedAt})`;
    const where = and(
      q.xnames ? inArray(components.id, q.xnames) : eq(components.type, "Node"),
      q.group === undefined
        ? undefined
        : inArray(
            components.id,
            this.db
              .select({ id: groupMembers.componentId })
              .from(groupMembers)
              .where(eq(groupMembers.groupName, q.group)),
          ),
    );
    const base = this.db
      .select({
        xname: components.id,
        inventoryState: components.state,
        componentUpdatedAt: sql<Date>`${components.updatedAt}`.as("component_updated_at"),
        bmcId: sql<string | null>`${bmcEndpoints.id}`.as("bmc_id"),
        powerState: sql<string>`case
          when ${newerTask} then case ${latest.powerState} when 'On' then 'on' when 'Off' then 'off' else 'undefined' end
          when ${components.state} in ('On', 'Ready') then 'on'
          when ${components.state} = 'Off' then 'off'
          else 'undefined' end`.as("power_state"),
        source: sql<string>`case
          when ${newerTask} then 'task'
          when ${components.state} in ('On', 'Ready', 'Off') then 'inventory'
          else 'none' end`.as("source"),
        taskAt: latest.at,
        transitionId: latest.transitionId,
        taskState: latest.taskState,
        message: latest.message,
        operation: latest.operation,
      })
      .from(components)
      .leftJoinLateral(latest, sql`true`)
      .leftJoin(bmcEndpoints, eq(bmcEndpoints.id, components.parentId))
      .where(where)
      .as("status");
    const filter = q.powerStates?.length ? inArray(base.powerState, q.powerStates) : undefined;
    const [rows, [total]] = await Promise.all([
      this.db
        .select()
        .from(base)
        .where(filter)
        .orderBy(q.desc ? desc(base.xname) : asc(base.xname))
        .limit(q.limit)
        .offset(q.offset),
      this.db.select({ n: count() }).from(base).where(filter),
    ]);
    return {
      total: Number(total?.n ?? 0),
      rows: rows.map((r) => {
        const at = (d: Date | string | null) => (d === null ? null : new Date(d).toISOString());
        return {
          xname: r.xname,
          powerState: r.powerState as PowerStatus["powerState"],
          source: r.source as PowerStatus["source"],
          inventoryState: r.inventoryState,
          bmcId: r.bmcId,
          managementState: r.bmcId === null ? "unavailable" : "available",
          lastUpdated:
            r.source === "task" ? at(r.taskAt) : r.source === "inventory" ? at(r.componentUpdatedAt) : null,
          lastTask:
            r.transitionId === null
              ? null
              : {
                  transitionId: r.transitionId,
                  operation: r.operation!,
                  state: r.taskState as TaskState,
                  message: r.message!,
                },
        };
      }),
    };
  }
}

/** The endpoint's component exists and is a NodeBMC; its credential exists. */
async function checkBmcRefs(tx: Tx, b: BmcEndpoint) {
  const [comp] = await tx.select({ type: components.type }).from(components).where(eq(components.id, b.id));
  if (!comp)
    throw new ApiError(
      "validation",
      `component '${b.id}' does not exist: create the BMC in the inventory first`,
      {
        errors: [{ field: "id", message: `component '${b.id}' does not exist in the inventory` }],
      },
    );
  if (comp.type !== "NodeBMC")
    throw new ApiError("validation", `component '${b.id}' is a ${comp.type}, not a NodeBMC`, {
      errors: [{ field: "id", message: `must be a NodeBMC component (it is a ${comp.type})` }],
    });
  const [cred] = await tx
    .select({ id: credentials.id })
    .from(credentials)
    .where(eq(credentials.id, b.credentialId));
  if (!cred)
    throw new ApiError("validation", `credential '${b.credentialId}' does not exist`, {
      errors: [
        {
          field: "credentialId",
          message: `credential '${b.credentialId}' does not exist (store it with POST /auth/v1/credentials)`,
        },
      ],
    });
}
