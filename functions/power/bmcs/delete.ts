import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../env";
import { defineRoute, problems } from "../../route";
import { BASE, BmcIdParam, tags } from "./answer";

export const deleteBmcRoute = defineRoute("admin:power", {
  method: "delete",
  path: `${BASE}/{id}`,
  tags,
  summary: "Delete a BMC endpoint",
  description:
    "Its nodes can no longer be powered (their tasks fail with a message saying so). Tasks already running finish; queued ones fail.",
  request: { params: BmcIdParam },
  responses: { 204: { description: "Deleted" }, ...problems(404) },
});

export const deleteBmc: RouteHandler<typeof deleteBmcRoute, AppEnv> = async (c) => {
  await c.var.stores.power.deleteBmc(c.req.valid("param").id);
  return c.body(null, 204);
};
