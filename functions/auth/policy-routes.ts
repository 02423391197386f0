/**
 * Role policies and memberships (Casbin `p` and `g` lines). Scopes in
 * tokens are computed from these when a token is issued, so a change takes
 * effect with the next token.
 */
import { type OpenAPIHono, type RouteHandler, z } from "@hono/zod-openapi";
import { collectionSchema, resourceSchema, toResource } from "../../shared/envelope";
import { answers } from "../answer";
import type { AppEnv } from "../env";
import { defineRoute, json, jsonBody, problems } from "../route";
import {
  AUTH_API_VERSION,
  PolicyCreateSchema,
  PolicySchema,
  RoleMemberAddSchema,
  RoleNameSchema,
  RoleSchema,
  SubjectSchema,
} from "./schemas";

const tags = ["auth"];
const answer = answers(AUTH_API_VERSION);
const PolicyResource = resourceSchema("Policy", PolicySchema);
const listPolicies = defineRoute("admin:auth", {
  method: "get",
  path: "/auth/v1/policies",
  tags,
  summary: "List policies (role → scope pattern)",
  responses: { 200: json(collectionSchema("Policy", PolicyResource), "Every policy") },
});
const listPoliciesHandler: RouteHandler<typeof listPolicies, AppEnv> = async (c) => {
  const rows = await c.var.stores.auth.policies.listPolicies();
  return answer.all(
    c,
    "Policy",
    rows.map((r) => toResource("Policy", AUTH_API_VERSION, r)),
  );
};

const createPolicy = defineRoute("admin:auth", {
  method: "post",
  path: "/auth/v1/policies",
  tags,
  summary: "Grant a role a scope (or a scope pattern such as read:*)",
  request: { body: jsonBody(PolicyCreateSchema) },
  responses: { 201: json(PolicyResource, "Created"), ...problems(409, 422) },
});
const createPolicyHandler: RouteHandler<typeof createPolicy, AppEnv> = async (c) => {
  const row = await c.var.stores.auth.policies.addPolicy(c.req.valid("json"));
  c.var.deps.logger.info("policy added", { ...row.spec, by: c.var.principal?.sub });
  return answer.one(c, "Policy", row, 201);
};

const deletePolicy = defineRoute("admin:auth", {
  method: "delete",
  path: "/auth/v1/policies/{id}",
  tags,
  summary: "Delete a policy",
  request: {
    params: z.object({
      id: z
        .string()
        .min(1)
        .max(64)
        .openapi({ param: { name: "id", in: "path" } }),
    }),
  },
  responses: { 204: { description: "Deleted" }, ...problems(404) },
});
const deletePolicyHandler: RouteHandler<typeof deletePolicy, AppEnv> = async (c) => {
  await c.var.stores.auth.policies.removePolicy(c.req.valid("param").id);
  return c.body(null, 204);
};

const listRoles = defineRoute("admin:auth", {
  method: "get",
  path: "/auth/v1/roles",
  tags,
  summary: "List roles with their scope patterns and members",
  responses: { 200: json(collectionSchema("Role", RoleSchema), "Every role") },
});
const listRolesHandler: RouteHandler<typeof listRoles, AppEnv> = async (c) => {
  return answer.all(c, "Role", await c.var.stores.auth.policies.listRoles());
};

const RoleParam = z.object({ role: RoleNameSchema.openapi({ param: { name: "role", in: "path" } }) });

const addMember = defineRoute("admin:auth", {
  method: "post",
  path: "/auth/v1/roles/{role}/members",
  tags,
  summary: "Make a subject (service account id or external subject) a member of a role",
  description: "Idempotent. Takes effect with the subject's next token.",
  request: { params: RoleParam, body: jsonBody(RoleMemberAddSchema) },
  responses: { 200: json(RoleSchema, "The role with its members"), ...problems(422) },
});
const addMemberHandler: RouteHandler<typeof addMember, AppEnv> = async (c) => {
  const { role } = c.req.valid("param");
  const { subject } = c.req.valid("json");
  const out = await c.var.stores.auth.policies.addMember(role, subject);
  c.var.deps.logger.info("role member added", { role, subject, by: c.var.principal?.sub });
  return c.json(out, 200);
};

const removeMember = defineRoute("admin:auth", {
  method: "delete",
  path: "/auth/v1/roles/{role}/members/{subject}",
  tags,
  summary: "Remove a subject from a role",
  request: {
    params: RoleParam.extend({ subject: SubjectSchema.openapi({ param: { name: "subject", in: "path" } }) }),
  },
  responses: { 204: { description: "Removed" }, ...problems(404) },
});
const removeMemberHandler: RouteHandler<typeof removeMember, AppEnv> = async (c) => {
  const { role, subject } = c.req.valid("param");
  await c.var.stores.auth.policies.removeMember(role, subject);
  return c.body(null, 204);
};

export function registerPolicyRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(listPolicies, listPoliciesHandler);
  app.openapi(createPolicy, createPolicyHandler);
  app.openapi(deletePolicy, deletePolicyHandler);
  app.openapi(listRoles, listRolesHandler);
  app.openapi(addMember, addMemberHandler);
  app.openapi(removeMember, removeMemberHandler);
}
