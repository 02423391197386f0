import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../env";
import { defineRoute, json, jsonBody, problems } from "../../route";
import { answer } from "../answer";
import { ComponentCreateSchema } from "../schemas";
import { buildNewComponents } from "../service";
import { ComponentResourceSchema } from "./get";

export const createComponentRoute = defineRoute("write:components", {
  method: "post",
  path: "/hsm/v2/State/Components",
  tags: ["inventory"],
  summary: "Create a component (optionally with its interfaces)",
  description:
    "The component and any `interfaces` are written in one transaction. Without `id` the server generates `<type>-<8 hex>`; an xname `id` implies `type` and `rack`.",
  request: { body: jsonBody(ComponentCreateSchema) },
  responses: {
    201: json(ComponentResourceSchema, "Created; Location and ETag headers set"),
    ...problems(409, 422),
  },
});

export const createComponent: RouteHandler<typeof createComponentRoute, AppEnv> = async (c) => {
  const input = c.req.valid("json");
  const items = buildNewComponents([input], () => "");
  const [row] = await c.var.stores.inventory.createComponents(items, () => "");
  return answer.one(c, "Component", row!, 201);
};
