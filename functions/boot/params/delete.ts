import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../env";
import { defineRoute, problems } from "../../route";
import { BASE, tags } from "./answer";
import { BootParamsIdParam } from "./params";

export const deleteBootParamsRoute = defineRoute("delete:bootparams", {
  method: "delete",
  path: `${BASE}/{id}`,
  tags,
  summary: "Delete boot parameters",
  description: "Nodes that resolved to them fall back to their role's params, then the cluster default.",
  request: { params: BootParamsIdParam },
  responses: { 204: { description: "Deleted" }, ...problems(404) },
});

export const deleteBootParams: RouteHandler<typeof deleteBootParamsRoute, AppEnv> = async (c) => {
  const { id } = c.req.valid("param");
  await c.var.stores.boot.deleteParams(id);
  return c.body(null, 204);
};
