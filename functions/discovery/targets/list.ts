import type { RouteHandler } from "@hono/zod-openapi";
import { type ListSpec, listQuerySchema } from "../../../shared/list-query";
import type { AppEnv } from "../../env";
import { defineRoute, json, problems } from "../../route";
import { TargetSchema } from "../schemas";
import { answer, BASE, KIND, TargetListSchema, tags } from "./answer";

export const targetListSpec: ListSpec = {
  filters: {
    id: { description: "Target id" },
    credentialId: { description: "Credential id" },
    site: { description: "Edge site" },
  },
  sortable: ["id", "name", "createdAt", "updatedAt"],
  fields: Object.keys(TargetSchema.shape),
  defaultSort: "id",
};

export const listTargetsRoute = defineRoute("read:discovery", {
  method: "get",
  path: BASE,
  tags,
  summary: "List discovery targets",
  description: "Filters are equality matches, comma = OR within a field, AND across fields.",
  request: { query: listQuerySchema(targetListSpec) },
  responses: { 200: json(TargetListSchema, "A page of targets"), ...problems(304) },
});

export const listTargets: RouteHandler<typeof listTargetsRoute, AppEnv> = (c) =>
  answer.list(c, KIND, targetListSpec, (q) => c.var.stores.discovery.listTargets(q));
