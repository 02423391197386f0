/**
 * Ethernet interfaces (`/hsm/v2/Inventory/EthernetInterfaces`): one MAC each,
 * unique across the inventory, stored normalised as aa:bb:cc:dd:ee:ff.
 */
import { type RouteHandler, z } from "@hono/zod-openapi";
import { listSchema, resourceSchema } from "../../../shared/envelope";
import { guardedUpdate, ifMatch, requiredIfMatch } from "../../../shared/http/conditional";
import { type ListSpec, listQuerySchema } from "../../../shared/list-query";
import { MAC_RULE, normalizeMac } from "../../../shared/mac";
import { notFound } from "../../../shared/problem";
import type { AppEnv } from "../../env";
import { defineRoute, json, jsonBody, mergePatchBody, problems } from "../../route";
import { answer } from "../answer";
import { IdSchema, InterfaceCreateSchema, InterfacePatchSchema, InterfaceSchema } from "../schemas";
import { buildInterface, checkPathId, mergeInterface } from "../service";

const BASE = "/hsm/v2/Inventory/EthernetInterfaces";
const KIND = "EthernetInterface";
const tags = ["inventory"];

export const interfaceListSpec: ListSpec = {
  filters: {
    componentId: { description: "Owning component id", aliases: ["component_id"] },
    macAddress: {
      description: "MAC address, in any usual spelling",
      aliases: ["mac", "mac_addr"],
      parse: (raw) => {
        const mac = normalizeMac(raw);
        if (!mac) throw new Error(`must be ${MAC_RULE}`);
        return mac;
      },
    },
    ipAddress: { description: "An IP address the interface holds", aliases: ["ip"] },
    id: { description: "Interface id" },
  },
  sortable: ["id", "componentId", "macAddress", "createdAt", "updatedAt"],
  fields: Object.keys(InterfaceSchema.shape),
  defaultSort: "id",
};

const Param = z.object({ id: IdSchema.openapi({ param: { name: "id", in: "path" } }) });
const ResourceSchema = resourceSchema(KIND, InterfaceSchema);

export const listInterfacesRoute = defineRoute("read:interfaces", {
  method: "get",
  path: BASE,
  tags,
  summary: "List ethernet interfaces",
  request: { query: listQuerySchema(interfaceListSpec) },
  responses: {
    200: json(listSchema(KIND, InterfaceSchema.partial()), "A page of interfaces"),
    ...problems(304),
  },
});

export const listInterfaces: RouteHandler<typeof listInterfacesRoute, AppEnv> = (c) =>
  answer.list(c, KIND, interfaceListSpec, (q) => c.var.stores.inventory.listInterfaces(q));

export const getInterfaceRoute = defineRoute("read:interfaces", {
  method: "get",
  path: `${BASE}/{id}`,
  tags,
  summary: "Get an ethernet interface",
  request: { params: Param },
  responses: { 200: json(ResourceSchema, "The interface"), ...problems(304, 404) },
});

export const getInterface: RouteHandler<typeof getInterfaceRoute, AppEnv> = async (c) => {
  const { id } = c.req.valid("param");
  const row = await c.var.stores.inventory.getInterface(id);
  if (!row) throw notFound("interface", id);
  return answer.one(c, KIND, row);
};

export const createInterfaceRoute = defineRoute("write:interfaces", {
  method: "post",
  path: BASE,
  tags,
  summary: "Create an ethernet interface",
  description:
    "Without `id` the interface is named by its MAC without separators. A MAC already in use is a 409.",
  request: { body: jsonBody(InterfaceCreateSchema) },
  responses: { 201: json(ResourceSchema, "Created"), ...problems(409, 422) },
});

export const createInterface: RouteHandler<typeof createInterfaceRoute, AppEnv> = async (c) => {
  const input = c.req.valid("json");
  const row = await c.var.stores.inventory.createInterface(buildInterface(input.componentId, input));
  return answer.one(c, KIND, row, 201);
};

export const replaceInterfaceRoute = defineRoute("write:interfaces", {
  method: "put",
  path: `${BASE}/{id}`,
  tags,
  summary: "Replace an ethernet interface",
  description: "Needs `If-Match` (428 without it, 412 on mismatch).",
  request: { params: Param, body: jsonBody(InterfaceCreateSchema) },
  responses: { 200: json(ResourceSchema, "Replaced"), ...problems(404, 409, 412, 422, 428) },
});

export const replaceInterface: RouteHandler<typeof replaceInterfaceRoute, AppEnv> = async (c) => {
  const { id } = c.req.valid("param");
  const body = c.req.valid("json");
  checkPathId(body.id, id);
  const store = c.var.stores.inventory;
  const tag = await requiredIfMatch(c, "interface", id, () => store.getInterface(id));
  const row = await store.updateInterface(buildInterface(body.componentId, { ...body, id }), tag);
  return answer.one(c, KIND, row);
};

export const patchInterfaceRoute = defineRoute("write:interfaces", {
  method: "patch",
  path: `${BASE}/{id}`,
  tags,
  summary: "Update an ethernet interface (JSON Merge Patch)",
  request: {
    params: Param,
    body: mergePatchBody(InterfacePatchSchema),
  },
  responses: { 200: json(ResourceSchema, "Updated"), ...problems(404, 409, 412, 422) },
});

export const patchInterface: RouteHandler<typeof patchInterfaceRoute, AppEnv> = async (c) => {
  const { id } = c.req.valid("param");
  const patch = c.req.valid("json");
  const store = c.var.stores.inventory;
  const row = await guardedUpdate({
    what: "interface",
    id,
    wanted: ifMatch(c, { required: false }),
    read: () => store.getInterface(id),
    change: (current) => mergeInterface(current, patch),
    write: (next, etag) => store.updateInterface(next, etag),
  });
  return answer.one(c, KIND, row);
};

export const deleteInterfaceRoute = defineRoute("delete:interfaces", {
  method: "delete",
  path: `${BASE}/{id}`,
  tags,
  summary: "Delete an ethernet interface",
  request: { params: Param },
  responses: { 204: { description: "Deleted" }, ...problems(404) },
});

export const deleteInterface: RouteHandler<typeof deleteInterfaceRoute, AppEnv> = async (c) => {
  await c.var.stores.inventory.deleteInterface(c.req.valid("param").id);
  return c.body(null, 204);
};
