/**
 * `GET /hsm/v2/summary`: the inventory counted, for a dashboard (and an
 * agent) to show the cluster at a glance without paging through it: every
 * component by type, the nodes by state and role, and each rack's nodes by
 * state. Counted by the database, so its cost does not grow with a page.
 */
import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../env";
import { defineRoute, json } from "../../route";
import { InventorySummarySchema } from "../schemas";

export const inventorySummaryRoute = defineRoute("read:components", {
  method: "get",
  path: "/hsm/v2/summary",
  tags: ["inventory"],
  summary: "The inventory counted: components by type, nodes by state, role and rack",
  responses: { 200: json(InventorySummarySchema, "The counts") },
});

export const inventorySummary: RouteHandler<typeof inventorySummaryRoute, AppEnv> = async (c) =>
  c.json(await c.var.stores.inventory.summary(), 200);
