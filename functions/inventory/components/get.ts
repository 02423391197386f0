import type { RouteHandler } from "@hono/zod-openapi";
import { httpEtag, resourceSchema, toResource } from "../../../shared/envelope";
import { notFound } from "../../../shared/problem";
import type { AppEnv } from "../../env";
import { defineRoute, json, problems } from "../../route";
import { API_VERSION, ComponentSchema } from "../schemas";
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
  return c.json(toResource("Component", API_VERSION, row) as never, 200, { ETag: httpEtag(row.etag) });
};
