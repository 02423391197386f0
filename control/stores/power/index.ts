/**
 * PowerStore and PowerQueue over Postgres (any drizzle pg driver), one
 * section per file: BMC endpoints (./bmcs), transitions and their tasks
 * (./transitions), the queue agents claim tasks from (./queue), and here the
 * power status read model. Every change of an endpoint and every change of
 * a transition's state writes its event in the same transaction; task
 * progress does not (it would flood the stream), but the completion event
 * carries every task's result.
 */
import { and, asc, count, desc, eq, inArray, isNotNull, sql } from "drizzle-orm";
import type { PowerStatus, TaskState } from "../../../functions/power/schemas";
import type { PowerQueue, PowerStatusQuery, PowerStore } from "../../../functions/power/store";
import { bmcEndpoints, components, groupMembers, powerTasks, transitions } from "../../db/schema";
import { PgTaskQueue } from "./queue";

export class PgPowerStore extends PgTaskQueue implements PowerStore, PowerQueue {
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
