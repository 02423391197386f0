/**
 * `PUT /events/v1/edges/{name}` (an edge's report of itself, every few
 * seconds) and `GET /events/v1/edges` (every edge that has reported, with
 * a stale flag when its reports stopped).
 */
import { type RouteHandler, z } from "@hono/zod-openapi";
import type { AppEnv } from "../env";
import { defineRoute, json, jsonBody } from "../route";
import {
  EDGE_REPORT_SECONDS,
  EDGES_API_VERSION,
  EdgeListSchema,
  EdgeNameSchema,
  EdgeReportSchema,
  STALE_AFTER_SECONDS,
} from "./schemas";

export const EDGES_PATH = "/events/v1/edges";

export const reportEdgeRoute = defineRoute("write:edges", {
  method: "put",
  path: `${EDGES_PATH}/{name}`,
  tags: ["events"],
  summary: "An edge's report of itself",
  description: `Sent by each edge every ${EDGE_REPORT_SECONDS} s: its replica position and lag, feed mode, Kea sync and boot-progress buffer. Replaces its previous report.`,
  request: {
    params: z.object({ name: EdgeNameSchema.openapi({ param: { name: "name", in: "path" } }) }),
    body: jsonBody(EdgeReportSchema),
  },
  responses: { 204: { description: "Recorded" } },
});

export const reportEdge: RouteHandler<typeof reportEdgeRoute, AppEnv> = async (c) => {
  await c.var.stores.progress.reportEdge(c.req.valid("param").name, c.req.valid("json"), new Date());
  return c.body(null, 204);
};

export const listEdgesRoute = defineRoute("read:edges", {
  method: "get",
  path: EDGES_PATH,
  tags: ["events"],
  summary: "The edges and their last reports",
  description: `Every edge that has reported, by name, with its last report; \`stale\` when none came for over ${STALE_AFTER_SECONDS} s (the edge is down, or cut off from the control plane).`,
  responses: { 200: json(EdgeListSchema, "The edges") },
});

export const listEdges: RouteHandler<typeof listEdgesRoute, AppEnv> = async (c) => {
  const now = Date.now();
  const items = (await c.var.stores.progress.edges()).map((e) => ({
    ...e.report,
    name: e.name,
    reportedAt: e.reportedAt.toISOString(),
    stale: now - +e.reportedAt > STALE_AFTER_SECONDS * 1000,
  }));
  return c.json(
    { kind: "EdgeList" as const, apiVersion: EDGES_API_VERSION, metadata: { total: items.length }, items },
    200,
  );
};
