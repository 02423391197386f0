/**
 * `GET /boot/v1/status`: where each node is in its boot, paged, with the
 * counts per stage; filters by stage, group, rack, edge, node and "stuck
 * for at least N seconds".
 */
import type { RouteHandler } from "@hono/zod-openapi";
import { type ListSpec, listQuerySchema, oneOf, parseListQuery, wholeNumber } from "../../shared/list-query";
import type { AppEnv } from "../env";
import { defineRoute, json } from "../route";
import {
  type BootStatus,
  BootStatusListSchema,
  BootStatusSchema,
  DONE_STAGE,
  PROGRESS_API_VERSION,
  STAGES,
  type Stage,
} from "./schemas";
import type { StatusQuery, StatusRow } from "./store";

export const STATUS_PATH = "/boot/v1/status";

export const statusListSpec: ListSpec = {
  filters: {
    stage: { description: `The node's last stage: ${STAGES.join(", ")}`, parse: oneOf(STAGES) },
    group: { description: "Member of this group" },
    rack: { description: "The component's rack (by default the cabinet of its xname, e.g. x1000)" },
    edge: { description: "Seen last by this edge" },
    id: { description: "Component id" },
    stuckFor: {
      description:
        "Only nodes that have not phoned home and have been at their stage at least this many seconds",
      aliases: ["stuck-for"],
      parse: wholeNumber,
    },
  },
  sortable: ["at", "id", "stage"],
  fields: Object.keys(BootStatusSchema.shape),
  defaultSort: "at",
};

/** The status query a list query asks for, at `now`. */
export function statusQueryOf(params: URLSearchParams, now: Date): StatusQuery & { fields?: string[] } {
  const q = parseListQuery(params, statusListSpec);
  const f = q.filters;
  const strings = (name: string) => (f[name] ?? []).map(String);
  const stuck = f.stuckFor as number[] | undefined;
  return {
    stages: strings("stage") as Stage[],
    groups: strings("group"),
    racks: strings("rack"),
    edges: strings("edge"),
    ids: strings("id"),
    // Several thresholds: any of them, so the smallest.
    stuckForSeconds: stuck?.length ? Math.min(...stuck) : undefined,
    sort: { field: q.sort.field as StatusQuery["sort"]["field"], desc: q.sort.desc },
    limit: q.limit,
    offset: q.offset,
    now,
    fields: q.fields,
  };
}

/** A row as the API shows it, at `now`. */
export function statusOf(r: StatusRow, now: Date): BootStatus {
  return {
    id: r.node,
    stage: r.stage,
    at: r.at.toISOString(),
    edge: r.edge,
    retry: r.retry,
    address: r.address,
    rack: r.rack,
    stuckSeconds: r.stage === DONE_STAGE ? null : Math.max(0, Math.floor((+now - +r.at) / 1000)),
  };
}

const pick = (o: BootStatus, fields: string[] | undefined) =>
  fields ? Object.fromEntries(fields.map((k) => [k, o[k as keyof BootStatus]])) : o;

export const bootStatusRoute = defineRoute("read:boot-status", {
  method: "get",
  path: STATUS_PATH,
  tags: ["boot"],
  summary: "Where each node is in its boot",
  description:
    "Per node: the last stage an edge (or the control plane) saw, when, which edge, the retry of its last boot script, and for how long it has been there (`stuckSeconds`, null once it phoned home). `metadata.counts` gives the nodes at each stage among those the group, rack and edge filters select. Oldest first by default, so the longest stuck lead. See docs/boot-progress.md.",
  request: { query: listQuerySchema(statusListSpec) },
  responses: { 200: json(BootStatusListSchema, "A page of nodes and the counts per stage") },
});

export const bootStatus: RouteHandler<typeof bootStatusRoute, AppEnv> = async (c) => {
  const now = new Date();
  const q = statusQueryOf(new URL(c.req.url).searchParams, now);
  const page = await c.var.stores.progress.status(q);
  return c.json(
    {
      kind: "BootStatusList" as const,
      apiVersion: PROGRESS_API_VERSION,
      metadata: {
        total: page.total,
        limit: q.limit,
        offset: q.offset,
        asOf: now.toISOString(),
        counts: page.counts,
      },
      items: page.rows.map((r) => pick(statusOf(r, now), q.fields)),
    },
    200,
  );
};
