/**
 * Auth schemas: the single source for request validation, response types
 * and the OpenAPI document of `/auth/v1` and the well-known documents.
 */
import { z } from "@hono/zod-openapi";
import { ID_PATTERN, ID_RULE } from "../../shared/ids";
import { CREDENTIAL_TYPES } from "./values";

/** `apiVersion` of every auth resource. */
export const AUTH_API_VERSION = "auth/v1";

export const SCOPE_RULE =
  "`<read|write|delete|admin>:<resource>`; policies and caps may use `*` as a wildcard";
/** A scope as tokens carry it, or a glob of scopes (`read:*`, `*`) in policies and caps. */
export const ScopePatternSchema = z
  .string()
  // A policy keeps its scope in a 255-character column.
  .max(255)
  .regex(/^(\*|(read|write|delete|admin|\*):([a-z][a-z0-9-]*\*?|\*))$/, `must be ${SCOPE_RULE}`)
  .openapi({ example: "read:components" });

export const RoleNameSchema = z
  .string()
  .regex(
    /^[a-z][a-z0-9_-]{0,62}$/,
    "must be 1–63 lower-case letters, digits, '_' or '-', starting with a letter",
  )
  .openapi({ example: "operator" });

/** Who a role is granted to: a service account id, or an external subject. */
export const SubjectSchema = z
  .string()
  .min(1)
  .max(255)
  .regex(/^[\x21-\x7e\u00a0-\uffff]+$/, "must not contain spaces or control characters")
  .openapi({ example: "ci-pipeline" });

const IdSchema = z.string().regex(ID_PATTERN, `must be ${ID_RULE}`);

// ---------- service accounts ----------

export const ServiceAccountSchema = z
  .object({
    id: IdSchema.openapi({ description: "The OAuth client_id", example: "ci-pipeline" }),
    description: z.string().max(1024),
    roles: z.array(RoleNameSchema).max(32).openapi({ description: "Roles granted to this account" }),
    scopes: z.array(ScopePatternSchema).max(128).nullable().openapi({
      description:
        "Cap: the most this account's tokens may carry, whatever its roles grant. null means no cap beyond the roles.",
    }),
    enabled: z.boolean().openapi({ description: "A disabled account cannot obtain tokens" }),
  })
  .openapi("ServiceAccountSpec");
export type ServiceAccount = z.infer<typeof ServiceAccountSchema>;

export const ServiceAccountCreateSchema = z
  .strictObject({
    id: ServiceAccountSchema.shape.id.optional().openapi({ description: "Generated (`sa-<hex>`) if absent" }),
    description: ServiceAccountSchema.shape.description.default(""),
    roles: ServiceAccountSchema.shape.roles.default([]),
    scopes: ServiceAccountSchema.shape.scopes.default(null),
    enabled: z.boolean().default(true),
  })
  .openapi("ServiceAccountCreate");

export const ServiceAccountPatchSchema = z
  .strictObject({
    description: ServiceAccountSchema.shape.description,
    roles: ServiceAccountSchema.shape.roles,
    scopes: ServiceAccountSchema.shape.scopes,
    enabled: z.boolean(),
  })
  .partial()
  .openapi("ServiceAccountPatch");

/** The creation (and secret reset) answer: the only time the secret is shown. */
export const ServiceAccountWithSecretSchema = ServiceAccountSchema.extend({
  clientSecret: z.string().openapi({ description: "Shown once; only a salted hash is kept" }),
}).openapi("ServiceAccountWithSecretSpec");

// ---------- policies and roles ----------

export const PolicySchema = z
  .object({
    role: RoleNameSchema,
    scope: ScopePatternSchema,
  })
  .openapi("PolicySpec");
export type Policy = z.infer<typeof PolicySchema>;
export const PolicyCreateSchema = z.strictObject(PolicySchema.shape).openapi("PolicyCreate");

export const RoleSchema = z
  .object({
    name: RoleNameSchema,
    scopes: z.array(ScopePatternSchema).openapi({ description: "Scope patterns granted by policies" }),
    members: z.array(SubjectSchema),
  })
  .openapi("RoleSpec");
export type Role = z.infer<typeof RoleSchema>;
export const RoleMemberAddSchema = z.strictObject({ subject: SubjectSchema }).openapi("RoleMemberAdd");

// ---------- revocations ----------

export const RevocationSchema = z
  .object({
    jti: z.string().min(1).max(255),
    reason: z.string().max(1024),
    expiresAt: z.string().openapi({
      format: "date-time",
      description: "When the revoked token would have expired; the revocation is pruned after that",
    }),
    subject: z.string().max(255).optional().openapi({
      description:
        "Set on a subject revocation (a service account deleted, disabled or given a new secret): every token of this subject issued before `issuedBefore` is refused, whatever its jti",
    }),
    issuedBefore: z.string().optional().openapi({
      format: "date-time",
      description: "With `subject`: tokens issued before this instant (milliseconds) are refused",
    }),
  })
  .openapi("RevocationSpec");
export type Revocation = z.infer<typeof RevocationSchema>;

export const RevokeRequestSchema = z
  .strictObject({
    jti: RevocationSchema.shape.jti,
    reason: RevocationSchema.shape.reason.default(""),
    expiresAt: z.iso
      .datetime({ offset: true })
      .optional()
      .openapi({ description: "Defaults to now plus the longest token lifetime" }),
  })
  .openapi("RevokeRequest");

// ---------- device credentials ----------

export const CredentialTypeSchema = z.enum(CREDENTIAL_TYPES);
const TagKey = z
  .string()
  .regex(/^[a-zA-Z0-9][a-zA-Z0-9._/-]{0,62}$/, "tag keys: 1–63 letters, digits, '._/-'");

export const CredentialSchema = z
  .object({
    id: IdSchema.openapi({ example: "bmc-east" }),
    name: z.string().min(1).max(255),
    type: CredentialTypeSchema,
    username: z.string().min(1).max(255),
    secret: z.string().optional().openapi({
      description: "Only in a single GET by a caller holding read:credentials, and in the creation answer",
    }),
    tags: z.record(TagKey, z.string().max(255)).openapi({ example: { site: "east", rack: "x1000" } }),
  })
  .openapi("CredentialSpec");
export type Credential = z.infer<typeof CredentialSchema>;

export const CredentialCreateSchema = z
  .strictObject({
    id: CredentialSchema.shape.id.optional().openapi({ description: "Generated (`cred-<hex>`) if absent" }),
    name: CredentialSchema.shape.name,
    type: CredentialSchema.shape.type,
    username: CredentialSchema.shape.username,
    secret: z.string().min(1).max(4096),
    tags: CredentialSchema.shape.tags.default({}),
  })
  .openapi("CredentialCreate");

export const CredentialReplaceSchema = CredentialCreateSchema.partial({ id: true }).openapi(
  "CredentialReplace",
);

// ---------- signing keys ----------

export const SigningKeySchema = z
  .object({
    kid: z.string(),
    alg: z.enum(["ES256", "RS256"]),
    active: z.boolean().openapi({ description: "Signs new tokens" }),
    retiredAt: z.string().nullable().openapi({ format: "date-time" }),
    publishedUntil: z.string().nullable().openapi({
      format: "date-time",
      description: "A retired key stays in the JWKS until its last token has expired",
    }),
  })
  .openapi("SigningKeySpec");

export const RotateRequestSchema = z
  .strictObject({
    revokePrevious: z.boolean().default(false).openapi({
      description:
        "Drop every older key from the JWKS at once (a leaked key): tokens they signed fail immediately",
    }),
    purpose: z.enum(["token", "bundle"]).default("token").openapi({
      description:
        "`token`: the key that signs access tokens; `bundle`: the key that signs air-gap bundles (GET /events/v1/bundle/keys lists it)",
    }),
  })
  .openapi("RotateRequest");

// ---------- tokens ----------

export const TokenRequestSchema = z
  .looseObject({
    grant_type: z.string().openapi({
      example: "client_credentials",
      description: "client_credentials, or urn:ietf:params:oauth:grant-type:token-exchange",
    }),
    client_id: z.string().optional(),
    client_secret: z.string().optional(),
    scope: z.string().optional().openapi({ description: "Space-separated subset of the scopes allowed" }),
    subject_token: z.string().optional().openapi({ description: "Token exchange: the external IdP's JWT" }),
    subject_token_type: z.string().optional(),
    requested_token_type: z.string().optional(),
    audience: z.string().optional(),
  })
  .openapi("TokenRequest");
export type TokenRequest = z.infer<typeof TokenRequestSchema>;

export const TokenResponseSchema = z
  .object({
    access_token: z.string(),
    token_type: z.literal("Bearer"),
    expires_in: z.number().int(),
    scope: z.string(),
    issued_token_type: z.string().optional(),
  })
  .openapi("TokenResponse");

export const OAuthErrorSchema = z
  .object({
    error: z.enum([
      "invalid_request",
      "invalid_client",
      "invalid_grant",
      "unauthorized_client",
      "unsupported_grant_type",
      "invalid_scope",
    ]),
    error_description: z.string().optional(),
  })
  .openapi("OAuthError");
export type OAuthErrorCode = z.infer<typeof OAuthErrorSchema>["error"];

export const JwksSchema = z.object({ keys: z.array(z.record(z.string(), z.unknown())) }).openapi("JWKS");
