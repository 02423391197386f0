import type { RouteHandler } from "@hono/zod-openapi";
import { ARCHES, COMPONENT_TYPES, FLAGS, ROLES, STATES, SUB_ROLES } from "../../../shared/enums";
import { listSchema } from "../../../shared/envelope";
import { boolean, type ListSpec, listQuerySchema, oneOf, wholeNumber } from "../../../shared/list-query";
import type { AppEnv } from "../../env";
import { defineRoute, json, problems } from "../../route";
import { answer } from "../answer";
import { ComponentSchema } from "../schemas";

export const componentListSpec: ListSpec = {
  filters: {
    id: { description: "Component id" },
    type: { description: "Component type, e.g. Node or NodeBMC", parse: oneOf(COMPONENT_TYPES) },
    state: { description: "State", parse: oneOf(STATES) },
    role: { description: "Role", parse: oneOf(ROLES) },
    subRole: { description: "SubRole", parse: oneOf(SUB_ROLES) },
    flag: { description: "Flag", parse: oneOf(FLAGS) },
    arch: { description: "Architecture", parse: oneOf(ARCHES) },
    rack: { description: "Rack" },
    parentId: { description: "Parent component id", aliases: ["parent_id"] },
    nid: { description: "Node ID", parse: wholeNumber },
    enabled: { description: "true or false", parse: boolean },
  },
  sortable: ["id", "type", "state", "role", "nid", "rack", "createdAt", "updatedAt"],
  fields: Object.keys(ComponentSchema.shape),
  defaultSort: "id",
};

export const listComponentsRoute = defineRoute("read:components", {
  method: "get",
  path: "/hsm/v2/State/Components",
  tags: ["inventory"],
  summary: "List components",
  description:
    "Filters are equality matches, comma = OR within a field, AND across fields. The list carries an ETag; send it back in If-None-Match to get 304 when nothing changed.",
  request: { query: listQuerySchema(componentListSpec) },
  responses: {
    200: json(listSchema("Component", ComponentSchema.partial()), "A page of components"),
    ...problems(304),
  },
});

export const listComponents: RouteHandler<typeof listComponentsRoute, AppEnv> = (c) =>
  answer.list(c, "Component", componentListSpec, (q) => c.var.stores.inventory.listComponents(q));
