import type { RouteHandler } from "@hono/zod-openapi";
import { boolean, type ListSpec, listQuerySchema, oneOf } from "../../../shared/list-query";
import type { AppEnv } from "../../env";
import { defineRoute, json, problems } from "../../route";
import { BmcEndpointSchema } from "../schemas";
import { answer, BASE, BmcListSchema, KIND, tags } from "./answer";

export const bmcListSpec: ListSpec = {
  filters: {
    id: { description: "BMC id" },
    credentialId: { description: "Credential id" },
    auth: { description: "basic or session", parse: oneOf(["basic", "session"]) },
    insecure: { description: "true: endpoints that accept any certificate", parse: boolean },
    site: { description: "Edge site" },
  },
  sortable: ["id", "address", "site", "createdAt", "updatedAt"],
  fields: Object.keys(BmcEndpointSchema.shape),
  defaultSort: "id",
};

export const listBmcsRoute = defineRoute("read:power", {
  method: "get",
  path: BASE,
  tags,
  summary: "List BMC endpoints",
  description:
    "Filters are equality matches, comma = OR within a field, AND across fields. The list carries an ETag; send it back in If-None-Match to get 304 when nothing changed.",
  request: { query: listQuerySchema(bmcListSpec) },
  responses: { 200: json(BmcListSchema, "A page of BMC endpoints"), ...problems(304) },
});

export const listBmcs: RouteHandler<typeof listBmcsRoute, AppEnv> = (c) =>
  answer.list(c, KIND, bmcListSpec, (q) => c.var.stores.power.listBmcs(q));
