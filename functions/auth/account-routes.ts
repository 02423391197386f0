/**
 * Service accounts (`/auth/v1/service-accounts`): OAuth clients for
 * machines. The secret is shown once, at creation or reset, and only its
 * salted hash is kept.
 */
import { type OpenAPIHono, type RouteHandler, z } from "@hono/zod-openapi";
import { listSchema, ResourceMetadataSchema, resourceSchema } from "../../shared/envelope";
import { guardedUpdate, ifMatch } from "../../shared/http/conditional";
import { generateId } from "../../shared/ids";
import { boolean, type ListSpec, listQuerySchema } from "../../shared/list-query";
import { notFound } from "../../shared/problem";
import { answers } from "../answer";
import type { AppEnv } from "../env";
import { defineRoute, json, jsonBody, mergePatchBody, problems } from "../route";
import {
  AUTH_API_VERSION,
  ServiceAccountCreateSchema,
  ServiceAccountPatchSchema,
  ServiceAccountSchema,
  ServiceAccountWithSecretSchema,
} from "./schemas";
import { newClientSecret } from "./secrets";
import { SUBJECT_REVOCATION_LIFETIME } from "./settings";

const Kind = "ServiceAccount";
const base = "/auth/v1/service-accounts";
const tags = ["auth"];
const answer = answers(AUTH_API_VERSION);

export const accountListSpec: ListSpec = {
  filters: {
    id: { description: "Client id" },
    role: { description: "Holding this role" },
    enabled: { description: "true or false", parse: boolean },
  },
  sortable: ["id", "createdAt", "updatedAt"],
  fields: Object.keys(ServiceAccountSchema.shape),
  defaultSort: "id",
};

const Resource = resourceSchema(Kind, ServiceAccountSchema);
const WithSecret = z
  .object({
    kind: z.literal(Kind),
    apiVersion: z.string(),
    metadata: ResourceMetadataSchema,
    spec: ServiceAccountWithSecretSchema,
  })
  .openapi("ServiceAccountWithSecret");
const IdParam = z.object({
  id: z
    .string()
    .min(1)
    .max(255)
    .openapi({ param: { name: "id", in: "path" } }),
});

/** The account with its fresh `clientSecret`, for the one answer that shows it. */
const withSecret = <T extends { spec: object }>(row: T, clientSecret: string) => ({
  ...row,
  spec: { ...row.spec, clientSecret },
});

const list = defineRoute("admin:auth", {
  method: "get",
  path: base,
  tags,
  summary: "List service accounts",
  request: { query: listQuerySchema(accountListSpec) },
  responses: {
    200: json(listSchema(Kind, ServiceAccountSchema.partial()), "A page of accounts"),
    ...problems(304),
  },
});
const listHandler: RouteHandler<typeof list, AppEnv> = (c) =>
  answer.list(c, Kind, accountListSpec, (q) => c.var.stores.auth.accounts.list(q));

const create = defineRoute("admin:auth", {
  method: "post",
  path: base,
  tags,
  summary: "Create a service account",
  description: "The answer holds `clientSecret`: it is shown this once and cannot be read back.",
  request: { body: jsonBody(ServiceAccountCreateSchema) },
  responses: { 201: json(WithSecret, "Created, with its secret"), ...problems(409, 422) },
});
const createHandler: RouteHandler<typeof create, AppEnv> = async (c) => {
  const body = c.req.valid("json");
  const { secret, hash } = await newClientSecret();
  const row = await c.var.stores.auth.accounts.create({ ...body, id: body.id ?? generateId("sa") }, hash);
  c.var.deps.logger.info("service account created", { id: row.id, by: c.var.principal?.sub });
  return answer.one(c, Kind, withSecret(row, secret), 201);
};

const get = defineRoute("admin:auth", {
  method: "get",
  path: `${base}/{id}`,
  tags,
  summary: "Get a service account (never its secret)",
  request: { params: IdParam },
  responses: { 200: json(Resource, "The account"), ...problems(304, 404) },
});
const getHandler: RouteHandler<typeof get, AppEnv> = async (c) => {
  const { id } = c.req.valid("param");
  const rec = await c.var.stores.auth.accounts.get(id);
  if (!rec) throw notFound("service account", id);
  return answer.one(c, Kind, rec.account);
};

const patch = defineRoute("admin:auth", {
  method: "patch",
  path: `${base}/{id}`,
  tags,
  summary: "Update a service account (JSON Merge Patch): description, roles, scope cap, enabled",
  description:
    "Disabling the account (`enabled: false`) ends its tokens at once. Otherwise tokens already issued keep their scopes until they expire; revoke them to cut access at once.",
  request: { params: IdParam, body: mergePatchBody(ServiceAccountPatchSchema) },
  responses: { 200: json(Resource, "Updated"), ...problems(404, 412, 422) },
});
const patchHandler: RouteHandler<typeof patch, AppEnv> = async (c) => {
  const { id } = c.req.valid("param");
  const body = c.req.valid("json");
  const store = c.var.stores.auth.accounts;
  const row = await guardedUpdate({
    what: "service account",
    id,
    wanted: ifMatch(c, { required: false }),
    read: async () => (await store.get(id))?.account,
    change: (current) => ({ ...current, ...body }),
    write: (next, etag) => store.update(next, etag, SUBJECT_REVOCATION_LIFETIME),
  });
  return answer.one(c, Kind, row);
};

const reset = defineRoute("admin:auth", {
  method: "post",
  path: `${base}/{id}/secret`,
  tags,
  summary: "Reset a service account's secret",
  description:
    "The old secret stops working at once, and so do the tokens issued before the reset; the new secret is shown this once.",
  request: { params: IdParam },
  responses: { 200: json(WithSecret, "The account with its new secret"), ...problems(404) },
});
const resetHandler: RouteHandler<typeof reset, AppEnv> = async (c) => {
  const { id } = c.req.valid("param");
  const store = c.var.stores.auth.accounts;
  const rec = await store.get(id);
  if (!rec) throw notFound("service account", id);
  const { secret, hash } = await newClientSecret();
  const row = await store.update(rec.account.spec, rec.account.etag, SUBJECT_REVOCATION_LIFETIME, hash);
  c.var.deps.logger.info("service account secret reset", { id, by: c.var.principal?.sub });
  return answer.one(c, Kind, withSecret(row, secret));
};

const del = defineRoute("admin:auth", {
  method: "delete",
  path: `${base}/{id}`,
  tags,
  summary: "Delete a service account and its role memberships",
  description: "Its tokens stop working at once.",
  request: { params: IdParam },
  responses: { 204: { description: "Deleted" }, ...problems(404) },
});
const delHandler: RouteHandler<typeof del, AppEnv> = async (c) => {
  const { id } = c.req.valid("param");
  await c.var.stores.auth.accounts.delete(id, SUBJECT_REVOCATION_LIFETIME);
  c.var.deps.logger.info("service account deleted", { id, by: c.var.principal?.sub });
  return c.body(null, 204);
};

export function registerAccountRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(list, listHandler);
  app.openapi(create, createHandler);
  app.openapi(get, getHandler);
  app.openapi(patch, patchHandler);
  app.openapi(reset, resetHandler);
  app.openapi(del, delHandler);
}
