/**
 * The queue that power agents (in-process or on an edge) take tasks from:
 * claims, leases, progress, results, abort signals, and the tasks whose
 * deadline passed.
 */
import { and, asc, eq, inArray, isNotNull, isNull, lt, or } from "drizzle-orm";
import { alias } from "drizzle-orm/pg-core";
import type { PowerOperation } from "../../../functions/power/schemas";
import type { ClaimedJob, TaskResult, TaskUpdate } from "../../../functions/power/store";
import { powerTasks, transitions } from "../../db/schema";
import { appendEvents } from "../outbox";
import { newEtag } from "../pg-util";

import { endpointsOf, OPEN, transitionChanged } from "./rows";
import { PgTransitionStore } from "./transitions";

export class PgTaskQueue extends PgTransitionStore {
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
          traceparent: transitions.traceparent,
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
            ...(r.traceparent ? { traceparent: r.traceparent } : {}),
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
}
