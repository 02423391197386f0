import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../env";
import { defineRoute, json, jsonBody, problems } from "../../route";
import { BootParamsCreateSchema } from "../schemas";
import { buildBootParams } from "../service";
import { answer, BASE, BootParamsResourceSchema, KIND, tags } from "./answer";

export const createBootParamsRoute = defineRoute("write:bootparams", {
  method: "post",
  path: BASE,
  tags,
  summary: "Create boot parameters for a component, a role or the cluster default",
  description:
    "Exactly one target: `componentId` (an existing component), `role`, or `isDefault: true` (422 otherwise, naming the fields). One set of params per target (409). Without `id` the server generates `bp-<8 hex>`.",
  request: { body: jsonBody(BootParamsCreateSchema) },
  responses: {
    201: json(BootParamsResourceSchema, "Created; Location and ETag headers set"),
    ...problems(409, 422),
  },
});

export const createBootParams: RouteHandler<typeof createBootParamsRoute, AppEnv> = async (c) => {
  const row = await c.var.stores.boot.createParams(buildBootParams(c.req.valid("json")));
  return answer.one(c, KIND, row, 201);
};
