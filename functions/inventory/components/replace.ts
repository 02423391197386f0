import type { RouteHandler } from "@hono/zod-openapi";
import { requiredIfMatch } from "../../../shared/http/conditional";
import type { AppEnv } from "../../env";
import { defineRoute, json, jsonBody, problems } from "../../route";
import { answer } from "../answer";
import { ComponentReplaceSchema } from "../schemas";
import { buildComponent, checkPathId } from "../service";
import { ComponentResourceSchema } from "./get";
import { ComponentIdParam } from "./params";

export const replaceComponentRoute = defineRoute("write:components", {
  method: "put",
  path: "/hsm/v2/State/Components/{id}",
  tags: ["inventory"],
  summary: "Replace a component",
  description:
    "Needs `If-Match` with the etag of your last read: 428 without it, 412 when it changed meanwhile.",
  request: { params: ComponentIdParam, body: jsonBody(ComponentReplaceSchema) },
  responses: { 200: json(ComponentResourceSchema, "Replaced"), ...problems(404, 412, 422, 428) },
});

export const replaceComponent: RouteHandler<typeof replaceComponentRoute, AppEnv> = async (c) => {
  const { id } = c.req.valid("param");
  const body = c.req.valid("json");
  checkPathId(body.id, id);
  const store = c.var.stores.inventory;
  const tag = await requiredIfMatch(c, "component", id, () => store.getComponent(id));
  const row = await store.updateComponent(buildComponent({ ...body, id }), tag);
  return answer.one(c, "Component", row);
};
