/**
 * The power tables' rows as the API's objects, the columns lists and sorts
 * may name, and the events each change writes: shared by the sections of
 * the power store.
 */
import { inArray } from "drizzle-orm";
import {
  BMC_KIND,
  type BmcEndpoint,
  POWER_API_VERSION,
  type PowerOperation,
  TASK_STATES,
  type Task,
  type TaskCounts,
  type TaskState,
  TRANSITION_KIND,
  type Transition,
  type TransitionState,
} from "../../../functions/power/schemas";
import { type Stored, toResource } from "../../../shared/envelope";
import type { NewEvent } from "../../../shared/events";
import { bmcEndpoints, type powerTasks, transitions } from "../../db/schema";
import type { Tx } from "../../db/types";

import { storedOf } from "../pg-util";

export type BmcRow = typeof bmcEndpoints.$inferSelect;
export type TransitionRow = typeof transitions.$inferSelect;
export type TaskRow = typeof powerTasks.$inferSelect;

/** Tasks in these states still have to run. */
export const OPEN: TaskState[] = ["new", "in-progress"];

export const bmcColumns = {
  id: bmcEndpoints.id,
  address: bmcEndpoints.address,
  credentialId: bmcEndpoints.credentialId,
  auth: bmcEndpoints.auth,
  insecure: bmcEndpoints.insecure,
  site: bmcEndpoints.site,
  createdAt: bmcEndpoints.createdAt,
  updatedAt: bmcEndpoints.updatedAt,
};

export const transitionColumns = {
  id: transitions.id,
  operation: transitions.operation,
  state: transitions.state,
  dryRun: transitions.dryRun,
  requestedBy: transitions.requestedBy,
  createdAt: transitions.createdAt,
  updatedAt: transitions.updatedAt,
};

export const bmcSpecOf = (r: BmcRow): BmcEndpoint => ({
  id: r.id,
  address: r.address,
  credentialId: r.credentialId,
  auth: r.auth as BmcEndpoint["auth"],
  insecure: r.insecure,
  site: r.site,
});

/** The BMC endpoints of these task rows as they are now, by id (deleted ones absent). */
export async function endpointsOf(
  tx: Tx,
  rows: { bmcId: string | null }[],
): Promise<Map<string, BmcEndpoint>> {
  const ids = [...new Set(rows.flatMap((r) => (r.bmcId === null ? [] : [r.bmcId])))];
  if (ids.length === 0) return new Map();
  const found = await tx.select().from(bmcEndpoints).where(inArray(bmcEndpoints.id, ids));
  return new Map(found.map((b) => [b.id, bmcSpecOf(b)]));
}

export const bmcOf = (r: BmcRow): Stored<BmcEndpoint> => storedOf(r, bmcSpecOf(r));

export const taskOf = (r: TaskRow): Task => ({
  id: r.id,
  xname: r.xname,
  bmcId: r.bmcId,
  state: r.state as TaskState,
  message: r.message,
  powerState: r.powerState,
  site: r.site,
  updatedAt: r.updatedAt.toISOString(),
});

export const emptyCounts = (): TaskCounts =>
  Object.fromEntries([["total", 0], ...TASK_STATES.map((s) => [s, 0])]) as TaskCounts;

export function countsOf(states: Iterable<[TaskState, number]>): TaskCounts {
  const c = emptyCounts();
  for (const [s, n] of states) {
    c[s] += n;
    c.total += n;
  }
  return c;
}

export function transitionOf(r: TransitionRow, counts: TaskCounts, tasks?: Task[]): Stored<Transition> {
  return storedOf(r, {
    id: r.id,
    operation: r.operation as PowerOperation,
    taskDeadlineMinutes: r.taskDeadlineMinutes,
    state: r.state as TransitionState,
    dryRun: r.dryRun,
    requestedBy: r.requestedBy,
    completedAt: r.completedAt?.toISOString() ?? null,
    taskCounts: counts,
    ...(tasks ? { tasks } : {}),
  });
}

export const bmcChanged = (action: "created" | "updated", row: Stored<BmcEndpoint>): NewEvent => ({
  service: "power",
  resource: "bmcs",
  action,
  subject: row.id,
  data: toResource(BMC_KIND, POWER_API_VERSION, row),
});

export const transitionChanged = (action: "created" | "updated", row: Stored<Transition>): NewEvent => ({
  service: "power",
  resource: "transitions",
  action,
  subject: row.id,
  data: toResource(TRANSITION_KIND, POWER_API_VERSION, row),
});
