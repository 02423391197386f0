import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../env";
import { defineRoute, problems } from "../../route";
import { ComponentIdParam } from "./params";

export const deleteComponentRoute = defineRoute("delete:components", {
  method: "delete",
  path: "/hsm/v2/State/Components/{id}",
  tags: ["inventory"],
  summary: "Delete a component",
  description:
    "Its interfaces and group/partition memberships go with it. A component that is the parent of others cannot be deleted (409).",
  request: { params: ComponentIdParam },
  responses: { 204: { description: "Deleted" }, ...problems(404, 409) },
});

export const deleteComponent: RouteHandler<typeof deleteComponentRoute, AppEnv> = async (c) => {
  const { id } = c.req.valid("param");
  await c.var.stores.inventory.deleteComponent(id);
  return c.body(null, 204);
};
