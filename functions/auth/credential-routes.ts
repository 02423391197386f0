/**
 * Device credentials (`/auth/v1/credentials`): BMC usernames and secrets for
 * discovery and power. Secrets are sealed at rest; lists never show them; a
 * single GET shows one only to a caller holding `read:credentials`.
 */
import { type OpenAPIHono, type RouteHandler, z } from "@hono/zod-openapi";
import { listSchema, resourceSchema, type Stored } from "../../shared/envelope";
import { requiredIfMatch } from "../../shared/http/conditional";
import { generateId } from "../../shared/ids";
import { type ListSpec, listQuerySchema, oneOf } from "../../shared/list-query";
import { ApiError, notFound } from "../../shared/problem";
import { answers } from "../answer";
import type { AppEnv } from "../env";
import { defineRoute, json, jsonBody, problems, type Scope } from "../route";
import {
  AUTH_API_VERSION,
  type Credential,
  CredentialCreateSchema,
  CredentialReplaceSchema,
  CredentialSchema,
  CredentialTypeSchema,
} from "./schemas";
import { sealCredential, unsealCredential } from "./secrets";
import type { CredentialRecord } from "./store";

const Kind = "Credential";
const base = "/auth/v1/credentials";
const tags = ["auth"];
const answer = answers(AUTH_API_VERSION);
export const READ_SECRETS: Scope = "read:credentials";
/** Metadata (no secrets) is visible to whoever may read or manage credentials. */
const META: Scope[] = [READ_SECRETS, "write:credentials"];

const tagFilter = (raw: string) => {
  if (!/^[^:]+:.*$/.test(raw)) throw new Error("must be key:value, e.g. site:east");
  return raw;
};

export const credentialListSpec: ListSpec = {
  filters: {
    id: { description: "Credential id" },
    name: { description: "Name" },
    type: { description: "redfish, ipmi, snmp, ssh or other", parse: oneOf(CredentialTypeSchema.options) },
    username: { description: "User name" },
    tag: { description: "Tagged key:value (e.g. site:east)", parse: tagFilter },
  },
  sortable: ["id", "name", "type", "createdAt", "updatedAt"],
  fields: Object.keys(CredentialSchema.shape).filter((f) => f !== "secret"),
  defaultSort: "id",
};

const Resource = resourceSchema(Kind, CredentialSchema);
const IdParam = z.object({
  id: z
    .string()
    .min(1)
    .max(255)
    .openapi({ param: { name: "id", in: "path" } }),
});

const reveal = async (c: Parameters<RouteHandler<typeof get, AppEnv>>[0], rec: CredentialRecord) => {
  const secret = await unsealCredential(c.var.deps.auth.settings, rec.credential.id, rec.sealedSecret);
  return { ...rec.credential, spec: { ...rec.credential.spec, secret } } as Stored<Credential>;
};

const list = defineRoute(META, {
  method: "get",
  path: base,
  tags,
  summary: "List credentials (secrets redacted)",
  request: { query: listQuerySchema(credentialListSpec) },
  responses: {
    200: json(listSchema(Kind, CredentialSchema.partial()), "A page of credentials"),
    ...problems(304),
  },
});
const listHandler: RouteHandler<typeof list, AppEnv> = (c) =>
  answer.list(c, Kind, credentialListSpec, (q) => c.var.stores.auth.credentials.list(q));

const create = defineRoute("write:credentials", {
  method: "post",
  path: base,
  tags,
  summary: "Store a credential",
  description: "The secret is sealed with AES-GCM under CHAMICORE_MASTER_KEY. The answer does not repeat it.",
  request: { body: jsonBody(CredentialCreateSchema) },
  responses: { 201: json(Resource, "Stored"), ...problems(409, 422) },
});
const createHandler: RouteHandler<typeof create, AppEnv> = async (c) => {
  const { secret, ...meta } = c.req.valid("json");
  const id = meta.id ?? generateId("cred");
  const sealed = await sealCredential(c.var.deps.auth.settings, id, secret);
  const rec = await c.var.stores.auth.credentials.create({ ...meta, id }, sealed);
  c.var.deps.logger.info("credential stored", { id, by: c.var.principal?.sub });
  return answer.one(c, Kind, rec.credential, 201);
};

const get = defineRoute(META, {
  method: "get",
  path: `${base}/{id}`,
  tags,
  summary: "Get a credential (with its secret only for read:credentials)",
  request: { params: IdParam },
  responses: { 200: json(Resource, "The credential"), ...problems(304, 404) },
});
const getHandler: RouteHandler<typeof get, AppEnv> = async (c) => {
  const { id } = c.req.valid("param");
  const rec = await c.var.stores.auth.credentials.get(id);
  if (!rec) throw notFound("credential", id);
  const withSecret = c.var.principal?.scopes.has(READ_SECRETS) ?? false;
  if (withSecret) c.var.deps.logger.info("credential secret read", { id, by: c.var.principal.sub });
  return answer.one(c, Kind, withSecret ? await reveal(c, rec) : rec.credential);
};

const replace = defineRoute("write:credentials", {
  method: "put",
  path: `${base}/{id}`,
  tags,
  summary: "Replace a credential (secret included)",
  description: "Needs If-Match (428 without it, 412 on mismatch).",
  request: { params: IdParam, body: jsonBody(CredentialReplaceSchema) },
  responses: { 200: json(Resource, "Replaced"), ...problems(404, 412, 422, 428) },
});
const replaceHandler: RouteHandler<typeof replace, AppEnv> = async (c) => {
  const { id } = c.req.valid("param");
  const { secret, ...meta } = c.req.valid("json");
  if (meta.id !== undefined && meta.id !== id)
    throw new ApiError("validation", `id '${meta.id}' in the body does not match '${id}' in the path`, {
      errors: [{ field: "id", message: "must match the path" }],
    });
  const store = c.var.stores.auth.credentials;
  const tag = await requiredIfMatch(c, "credential", id, async () => (await store.get(id))?.credential);
  const sealed = await sealCredential(c.var.deps.auth.settings, id, secret);
  const rec = await store.update({ ...meta, id }, sealed, tag);
  return answer.one(c, Kind, rec.credential);
};

const del = defineRoute("delete:credentials", {
  method: "delete",
  path: `${base}/{id}`,
  tags,
  summary: "Delete a credential",
  request: { params: IdParam },
  responses: { 204: { description: "Deleted" }, ...problems(404) },
});
const delHandler: RouteHandler<typeof del, AppEnv> = async (c) => {
  await c.var.stores.auth.credentials.delete(c.req.valid("param").id);
  return c.body(null, 204);
};

export function registerCredentialRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(list, listHandler);
  app.openapi(create, createHandler);
  app.openapi(get, getHandler);
  app.openapi(replace, replaceHandler);
  app.openapi(del, delHandler);
}
