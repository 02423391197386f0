import type { RouteHandler } from "@hono/zod-openapi";
import { resourceSchema } from "../../../shared/envelope";
import { notFound } from "../../../shared/problem";
import type { AppEnv } from "../../env";
import { defineRoute, json, problems } from "../../route";
import { answer } from "../answer";
import { ComponentSchema } from "../schemas";
import { ComponentIdParam } from "./params";

export const ComponentResourceSchema = resourceSchema("Component", ComponentSchema);

export const getComponentRoute = defineRoute("read:components", {
  method: "get",
  path: "/hsm/v2/State/Components/{id}",
  tags: ["inventory"],
  summary: "Get a component",
  request: { params: ComponentIdParam },
  responses: { 200: json(ComponentResourceSchema, "The component; ETag header set"), ...problems(304, 404) },
});

export const getComponent: RouteHandler<typeof getComponentRoute, AppEnv> = async (c) => {
  const { id } = c.req.valid("param");
  const row = await c.var.stores.inventory.getComponent(id);
  if (!row) throw notFound("component", id);
  return answer.one(c, "Component", row);
};
