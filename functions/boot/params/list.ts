import type { RouteHandler } from "@hono/zod-openapi";
import { ROLES } from "../../../shared/enums";
import { boolean, type ListSpec, listQuerySchema, oneOf } from "../../../shared/list-query";
import type { AppEnv } from "../../env";
import { defineRoute, json, problems } from "../../route";
import { BootParamsSchema } from "../schemas";
import { answer, BASE, BootParamsListSchema, KIND, tags } from "./answer";

export const bootParamsListSpec: ListSpec = {
  filters: {
    id: { description: "Boot params id" },
    componentId: { description: "Target component id", aliases: ["component_id"] },
    role: { description: "Target role", parse: oneOf(ROLES) },
    isDefault: { description: "true: the cluster default only; false: the others", parse: boolean },
  },
  sortable: ["id", "componentId", "role", "createdAt", "updatedAt"],
  fields: Object.keys(BootParamsSchema.shape),
  defaultSort: "id",
};

export const listBootParamsRoute = defineRoute("read:bootparams", {
  method: "get",
  path: BASE,
  tags,
  summary: "List boot parameters",
  description:
    "Filters are equality matches, comma = OR within a field, AND across fields. The list carries an ETag; send it back in If-None-Match to get 304 when nothing changed.",
  request: { query: listQuerySchema(bootParamsListSpec) },
  responses: { 200: json(BootParamsListSchema, "A page of boot parameters"), ...problems(304) },
});

export const listBootParams: RouteHandler<typeof listBootParamsRoute, AppEnv> = (c) =>
  answer.list(c, KIND, bootParamsListSpec, (q) => c.var.stores.boot.listParams(q));
