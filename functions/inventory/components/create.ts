import type { RouteHandler } from "@hono/zod-openapi";
import { httpEtag, toResource } from "../../../shared/envelope";
import type { AppEnv } from "../../env";
import { defineRoute, json, jsonBody, problems } from "../../route";
import { API_VERSION, ComponentCreateSchema } from "../schemas";
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
  return c.json(toResource("Component", API_VERSION, row!) as never, 201, {
    Location: `/hsm/v2/State/Components/${encodeURIComponent(row!.id)}`,
    ETag: httpEtag(row!.etag),
  });
};
