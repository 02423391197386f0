import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../env";
import { defineRoute, problems } from "../../route";
import { BASE, TargetIdParam, tags } from "./answer";

export const deleteTargetRoute = defineRoute("write:discovery", {
  method: "delete",
  path: `${BASE}/{id}`,
  tags,
  summary: "Delete a discovery target",
  description:
    "What its scans put in the inventory stays. Scans not yet started leave it out; a running scan finishes with what it already read.",
  request: { params: TargetIdParam },
  responses: { 204: { description: "Deleted" }, ...problems(404) },
});

export const deleteTarget: RouteHandler<typeof deleteTargetRoute, AppEnv> = async (c) => {
  await c.var.stores.discovery.deleteTarget(c.req.valid("param").id);
  return c.body(null, 204);
};
