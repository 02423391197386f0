/**
 * Payload CRUD (`/cloud-init/payloads`): cloud-init data for one component,
 * group or role. Every write is validated (exactly one existing target,
 * documents cloud-init accepts) and recorded as a change event by the store.
 */
import { type RouteHandler, z } from "@hono/zod-openapi";
import { ROLES } from "../../shared/enums";
import { listSchema, resourceSchema } from "../../shared/envelope";
import { guardedUpdate, ifMatch, requiredIfMatch } from "../../shared/http/conditional";
import { type ListSpec, listQuerySchema, oneOf } from "../../shared/list-query";
import { notFound } from "../../shared/problem";
import { answers } from "../answer";
import type { AppEnv } from "../env";
import { defineRoute, json, jsonBody, mergePatchBody, problems } from "../route";
import {
  CLOUD_INIT_API_VERSION,
  PAYLOAD_KIND as KIND,
  PayloadCreateSchema,
  PayloadIdSchema,
  PayloadPatchSchema,
  PayloadSchema,
} from "./schemas";
import { buildPayload, mergePayload } from "./service";

export const PAYLOADS_PATH = "/cloud-init/payloads";
const BASE = PAYLOADS_PATH;
const tags = ["cloud-init"];
const answer = answers(CLOUD_INIT_API_VERSION);

export const payloadListSpec: ListSpec = {
  filters: {
    id: { description: "Payload id" },
    componentId: { description: "Target component id", aliases: ["component_id"] },
    group: { description: "Target group name" },
    role: { description: "Target role", parse: oneOf(ROLES) },
  },
  sortable: ["id", "componentId", "group", "role", "createdAt", "updatedAt"],
  fields: Object.keys(PayloadSchema.shape),
  defaultSort: "id",
};

const Param = z.object({ id: PayloadIdSchema.openapi({ param: { name: "id", in: "path" } }) });
const ResourceSchema = resourceSchema(KIND, PayloadSchema);
const TARGET_RULE =
  "Exactly one of `componentId`, `group`, `role` (422 otherwise); the component or group must exist (422) and have no other payload (409). user-data and vendor-data must be documents cloud-init accepts (422 naming the field, with the YAML parser's message and line).";

export const listPayloadsRoute = defineRoute("read:payloads", {
  method: "get",
  path: BASE,
  tags,
  summary: "List cloud-init payloads",
  description:
    "Filters are equality matches, comma = OR within a field. The list carries an ETag; send it back in If-None-Match to get 304 when nothing changed.",
  request: { query: listQuerySchema(payloadListSpec) },
  responses: { 200: json(listSchema(KIND, PayloadSchema.partial()), "A page of payloads"), ...problems(304) },
});

export const listPayloads: RouteHandler<typeof listPayloadsRoute, AppEnv> = (c) =>
  answer.list(c, KIND, payloadListSpec, (q) => c.var.stores.cloudInit.listPayloads(q));

export const createPayloadRoute = defineRoute("write:payloads", {
  method: "post",
  path: BASE,
  tags,
  summary: "Create a cloud-init payload",
  description: TARGET_RULE,
  request: { body: jsonBody(PayloadCreateSchema) },
  responses: { 201: json(ResourceSchema, "Created; Location and ETag headers set"), ...problems(409, 422) },
});

export const createPayload: RouteHandler<typeof createPayloadRoute, AppEnv> = async (c) => {
  const row = await c.var.stores.cloudInit.createPayload(buildPayload(c.req.valid("json")));
  return answer.one(c, KIND, row, 201);
};

export const getPayloadRoute = defineRoute("read:payloads", {
  method: "get",
  path: `${BASE}/{id}`,
  tags,
  summary: "Get a cloud-init payload",
  request: { params: Param },
  responses: { 200: json(ResourceSchema, "The payload; ETag header set"), ...problems(304, 404) },
});

export const getPayload: RouteHandler<typeof getPayloadRoute, AppEnv> = async (c) => {
  const { id } = c.req.valid("param");
  const row = await c.var.stores.cloudInit.getPayload(id);
  if (!row) throw notFound("payload", id);
  return answer.one(c, KIND, row);
};

export const replacePayloadRoute = defineRoute("write:payloads", {
  method: "put",
  path: `${BASE}/{id}`,
  tags,
  summary: "Replace a cloud-init payload",
  description: `Needs \`If-Match\` with the etag of your last read: 428 without it, 412 when it changed meanwhile. ${TARGET_RULE}`,
  request: { params: Param, body: jsonBody(PayloadCreateSchema) },
  responses: { 200: json(ResourceSchema, "Replaced"), ...problems(404, 409, 412, 422, 428) },
});

export const replacePayload: RouteHandler<typeof replacePayloadRoute, AppEnv> = async (c) => {
  const { id } = c.req.valid("param");
  const store = c.var.stores.cloudInit;
  const tag = await requiredIfMatch(c, "payload", id, () => store.getPayload(id));
  const row = await store.updatePayload(buildPayload(c.req.valid("json"), id), tag);
  return answer.one(c, KIND, row);
};

export const patchPayloadRoute = defineRoute("write:payloads", {
  method: "patch",
  path: `${BASE}/{id}`,
  tags,
  summary: "Update a cloud-init payload (JSON Merge Patch)",
  description:
    'RFC 7396: absent fields are kept, null removes a field (bindToAddress: back to false), `metaData` is patched key by key. Moving a payload to another target means nulling the old one: `{"componentId": null, "group": "compute"}`. `If-Match` is honoured when given (412 on mismatch).',
  request: { params: Param, body: mergePatchBody(PayloadPatchSchema) },
  responses: { 200: json(ResourceSchema, "Updated"), ...problems(404, 409, 412, 422) },
});

export const patchPayload: RouteHandler<typeof patchPayloadRoute, AppEnv> = async (c) => {
  const { id } = c.req.valid("param");
  const patch = c.req.valid("json");
  const store = c.var.stores.cloudInit;
  const row = await guardedUpdate({
    what: "payload",
    id,
    wanted: ifMatch(c, { required: false }),
    read: () => store.getPayload(id),
    change: (current) => mergePayload(current, patch),
    write: (next, etag) => store.updatePayload(next, etag),
  });
  return answer.one(c, KIND, row);
};

export const deletePayloadRoute = defineRoute("delete:payloads", {
  method: "delete",
  path: `${BASE}/{id}`,
  tags,
  summary: "Delete a cloud-init payload",
  request: { params: Param },
  responses: { 204: { description: "Deleted" }, ...problems(404) },
});

export const deletePayload: RouteHandler<typeof deletePayloadRoute, AppEnv> = async (c) => {
  await c.var.stores.cloudInit.deletePayload(c.req.valid("param").id);
  return c.body(null, 204);
};
