/**
 * Groups and partitions: named sets of components. Partitions are exclusive
 * (a component is in at most one: adding it to a second is a 409). One
 * factory serves both, since only that rule differs.
 */
import { type OpenAPIHono, type RouteHandler, z } from "@hono/zod-openapi";
import { listSchema, resourceSchema } from "../../../shared/envelope";
import { guardedUpdate, ifMatch, requiredIfMatch } from "../../../shared/http/conditional";
import { type ListSpec, listQuerySchema } from "../../../shared/list-query";
import { notFound } from "../../../shared/problem";
import type { AppEnv } from "../../env";
import { defineRoute, json, jsonBody, mergePatchBody, problems } from "../../route";
import { answer } from "../answer";
import { GroupCreateSchema, GroupPatchSchema, GroupSchema, IdSchema, MembersAddSchema } from "../schemas";
import { buildGroup, checkPathId, mergeGroup } from "../service";
import type { GroupKind } from "../store";

export const groupListSpec: ListSpec = {
  filters: {
    name: { description: "Name" },
    tag: { description: "Having this tag" },
    member: { description: "Containing this component id" },
  },
  sortable: ["name", "createdAt", "updatedAt"],
  fields: Object.keys(GroupSchema.shape),
  defaultSort: "name",
};

const NameParam = z.object({ name: IdSchema.openapi({ param: { name: "name", in: "path" } }) });
const MemberParam = NameParam.extend({
  componentId: IdSchema.openapi({ param: { name: "componentId", in: "path" } }),
});

export function registerGroupRoutes(app: OpenAPIHono<AppEnv>, kind: GroupKind) {
  const Kind = kind === "group" ? "Group" : "Partition";
  const base = kind === "group" ? "/hsm/v2/groups" : "/hsm/v2/partitions";
  const tags = ["inventory"];
  const label = kind;
  const Resource = resourceSchema(Kind, GroupSchema);
  const exclusive = kind === "partition" ? " A component can be in only one partition (409 otherwise)." : "";

  const list = defineRoute("read:groups", {
    method: "get",
    path: base,
    tags,
    summary: `List ${label}s`,
    request: { query: listQuerySchema(groupListSpec) },
    responses: {
      200: json(listSchema(Kind, GroupSchema.partial()), `A page of ${label}s`),
      ...problems(304),
    },
  });
  const listHandler: RouteHandler<typeof list, AppEnv> = (c) =>
    answer.list(c, Kind, groupListSpec, (q) => c.var.stores.inventory.listGroups(kind, q));
  app.openapi(list, listHandler);

  const create = defineRoute("write:groups", {
    method: "post",
    path: base,
    tags,
    summary: `Create a ${label}`,
    description: `Members must be existing component ids.${exclusive}`,
    request: { body: jsonBody(GroupCreateSchema) },
    responses: { 201: json(Resource, "Created"), ...problems(409, 422) },
  });
  const createHandler: RouteHandler<typeof create, AppEnv> = async (c) => {
    const row = await c.var.stores.inventory.createGroup(kind, buildGroup(c.req.valid("json")));
    return answer.one(c, Kind, row, 201);
  };
  app.openapi(create, createHandler);

  const get = defineRoute("read:groups", {
    method: "get",
    path: `${base}/{name}`,
    tags,
    summary: `Get a ${label}`,
    request: { params: NameParam },
    responses: { 200: json(Resource, `The ${label}`), ...problems(304, 404) },
  });
  const getHandler: RouteHandler<typeof get, AppEnv> = async (c) => {
    const { name } = c.req.valid("param");
    const row = await c.var.stores.inventory.getGroup(kind, name);
    if (!row) throw notFound(label, name);
    return answer.one(c, Kind, row);
  };
  app.openapi(get, getHandler);

  const replace = defineRoute("write:groups", {
    method: "put",
    path: `${base}/{name}`,
    tags,
    summary: `Replace a ${label} (description, tags and members)`,
    description: `Needs If-Match (428 without it, 412 on mismatch).${exclusive}`,
    request: { params: NameParam, body: jsonBody(GroupCreateSchema.partial({ name: true })) },
    responses: { 200: json(Resource, "Replaced"), ...problems(404, 409, 412, 422, 428) },
  });
  const replaceHandler: RouteHandler<typeof replace, AppEnv> = async (c) => {
    const { name } = c.req.valid("param");
    const body = c.req.valid("json");
    checkPathId(body.name, name, "name");
    const store = c.var.stores.inventory;
    const tag = await requiredIfMatch(c, label, name, () => store.getGroup(kind, name));
    const row = await store.updateGroup(kind, buildGroup({ ...body, name }), tag);
    return answer.one(c, Kind, row);
  };
  app.openapi(replace, replaceHandler);

  const patch = defineRoute("write:groups", {
    method: "patch",
    path: `${base}/{name}`,
    tags,
    summary: `Update a ${label} (JSON Merge Patch)`,
    request: {
      params: NameParam,
      body: mergePatchBody(GroupPatchSchema),
    },
    responses: { 200: json(Resource, "Updated"), ...problems(404, 409, 412, 422) },
  });
  const patchHandler: RouteHandler<typeof patch, AppEnv> = async (c) => {
    const { name } = c.req.valid("param");
    const body = c.req.valid("json");
    const store = c.var.stores.inventory;
    const row = await guardedUpdate({
      what: label,
      id: name,
      wanted: ifMatch(c, { required: false }),
      read: () => store.getGroup(kind, name),
      change: (current) => mergeGroup(current, body),
      write: (next, etag) => store.updateGroup(kind, next, etag),
    });
    return answer.one(c, Kind, row);
  };
  app.openapi(patch, patchHandler);

  const del = defineRoute("delete:groups", {
    method: "delete",
    path: `${base}/{name}`,
    tags,
    summary: `Delete a ${label} (its components stay)`,
    request: { params: NameParam },
    responses: { 204: { description: "Deleted" }, ...problems(404) },
  });
  const delHandler: RouteHandler<typeof del, AppEnv> = async (c) => {
    await c.var.stores.inventory.deleteGroup(kind, c.req.valid("param").name);
    return c.body(null, 204);
  };
  app.openapi(del, delHandler);

  const addMembers = defineRoute("write:groups", {
    method: "post",
    path: `${base}/{name}/members`,
    tags,
    summary: `Add components to a ${label}`,
    description: `Adding a component that is already a member changes nothing.${exclusive}`,
    request: { params: NameParam, body: jsonBody(MembersAddSchema) },
    responses: { 200: json(Resource, `The ${label} with its members`), ...problems(404, 409, 422) },
  });
  const addHandler: RouteHandler<typeof addMembers, AppEnv> = async (c) => {
    const row = await c.var.stores.inventory.addMembers(
      kind,
      c.req.valid("param").name,
      c.req.valid("json").ids,
    );
    return answer.one(c, Kind, row);
  };
  app.openapi(addMembers, addHandler);

  const removeMember = defineRoute("write:groups", {
    method: "delete",
    path: `${base}/{name}/members/{componentId}`,
    tags,
    summary: `Remove a component from a ${label}`,
    request: { params: MemberParam },
    responses: { 204: { description: "Removed" }, ...problems(404) },
  });
  const removeHandler: RouteHandler<typeof removeMember, AppEnv> = async (c) => {
    const { name, componentId } = c.req.valid("param");
    await c.var.stores.inventory.removeMember(kind, name, componentId);
    return c.body(null, 204);
  };
  app.openapi(removeMember, removeHandler);
}
