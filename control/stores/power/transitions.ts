/**
 * Power transitions: a requested operation over a set of nodes, with one
 * task per node; created, listed, read and aborted here, and settled (their
 * state from their tasks' states) for the queue.
 */
import { and, asc, count, eq, inArray } from "drizzle-orm";
import type { Page } from "../../../functions/inventory/store";
import {
  FINAL_TRANSITION_STATES,
  type TaskCounts,
  type TaskState,
  type Transition,
  type TransitionState,
} from "../../../functions/power/schemas";
import type { NewTask, NewTransition } from "../../../functions/power/store";
import type { ListQuery } from "../../../shared/list-query";
import { ApiError, notFound } from "../../../shared/problem";
import { activeTraceparent } from "../../../shared/tracing";
import { powerTasks, transitions } from "../../db/schema";
import type { Q, Tx } from "../../db/types";
import { appendEvents } from "../outbox";
import { chunks, isUuid, newEtag, orderOf, pageOf, whereOf } from "../pg-util";
import { PgBmcStore } from "./bmcs";
import {
  countsOf,
  emptyCounts,
  OPEN,
  type TaskRow,
  taskOf,
  transitionChanged,
  transitionColumns,
  transitionOf,
} from "./rows";

export class PgTransitionStore extends PgBmcStore {
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
          traceparent: activeTraceparent() ?? null,
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

  protected async readTransition(q: Q, id: string) {
    const [row] = await q.select().from(transitions).where(eq(transitions.id, id));
    if (!row) return undefined;
    const tasks = await q
      .select()
      .from(powerTasks)
      .where(eq(powerTasks.transitionId, id))
      .orderBy(asc(powerTasks.position));
    return transitionOf(row, countsOf(tasks.map((t) => [t.state as TaskState, 1])), tasks.map(taskOf));
  }

  protected async countsFor(q: Q, ids: string[]): Promise<Map<string, TaskCounts>> {
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
  protected async settle(tx: Tx, ids: string[]) {
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
}
