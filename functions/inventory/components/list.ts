import type { RouteHandler } from "@hono/zod-openapi";
import { z } from "@hono/zod-openapi";
import { ARCHES, COMPONENT_TYPES, FLAGS, ROLES, STATES, SUB_ROLES } from "../../../shared/enums";
import { listSchema, toList } from "../../../shared/envelope";
import { boolean, type ListSpec, oneOf, parseListQuery, wholeNumber } from "../../../shared/list-query";
import type { AppEnv } from "../../env";
import { defineRoute, json, problems } from "../../route";
import { API_VERSION, ComponentSchema } from "../schemas";

export const componentListSpec: ListSpec = {
  filters: {
    id: {},
    type: { parse: oneOf(COMPONENT_TYPES) },
    state: { parse: oneOf(STATES) },
    role: { parse: oneOf(ROLES) },
    subRole: { parse: oneOf(SUB_ROLES) },
    flag: { parse: oneOf(FLAGS) },
    arch: { parse: oneOf(ARCHES) },
    rack: {},
    parentId: { aliases: ["parent_id"] },
    nid: { parse: wholeNumber },
    enabled: { parse: boolean },
  },
  sortable: ["id", "type", "state", "role", "nid", "rack", "createdAt", "updatedAt"],
  fields: Object.keys(ComponentSchema.shape),
  defaultSort: "id",
};

const filter = (description: string) => z.string().optional().openapi({ description });

export const ListQuerySchema = z.object({
  type: filter("Component type(s), comma-separated for OR, e.g. Node,NodeBMC"),
  state: filter("State(s)"),
  role: filter("Role(s)"),
  subRole: filter("SubRole(s)"),
  flag: filter("Flag(s)"),
  arch: filter("Arch(es)"),
  rack: filter("Rack(s)"),
  parentId: filter("Parent component id(s); parent_id is accepted too"),
  nid: filter("NID(s)"),
  id: filter("Component id(s)"),
  enabled: filter("true or false"),
  sort: filter("Field to sort by; prefix - for descending (default id)"),
  limit: filter("Page size, 1–10000 (default 100)"),
  offset: filter("Items to skip (default 0)"),
  fields: filter("Sparse fieldset: spec fields to return, comma-separated"),
});

export const ComponentListSchema = listSchema("Component", ComponentSchema.partial());

export const listComponentsRoute = defineRoute("read:components", {
  method: "get",
  path: "/hsm/v2/State/Components",
  tags: ["inventory"],
  summary: "List components",
  description:
    "Filters are equality matches, comma = OR within a field, AND across fields. The list carries an ETag; send it back in If-None-Match to get 304 when nothing changed.",
  request: { query: ListQuerySchema },
  responses: { 200: json(ComponentListSchema, "A page of components"), ...problems(304) },
});

export const listComponents: RouteHandler<typeof listComponentsRoute, AppEnv> = async (c) => {
  const q = parseListQuery(new URL(c.req.url).searchParams, componentListSpec);
  const page = await c.var.stores.inventory.listComponents(q);
  return c.json(
    toList(
      "Component",
      API_VERSION,
      page.rows,
      { total: page.total, limit: q.limit, offset: q.offset },
      q.fields,
    ) as never,
    200,
  );
};
