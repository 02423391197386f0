/**
 * The token endpoint (OAuth 2 client credentials and RFC 8693 token
 * exchange), revocation, and the discovery documents.
 */
import type { OpenAPIHono, RouteHandler } from "@hono/zod-openapi";
import { z } from "@hono/zod-openapi";
import { collectionSchema, resourceSchema } from "../../shared/envelope";
import { ApiError } from "../../shared/problem";
import { answers } from "../answer";
import { baseUrlOf } from "../base-url";
import type { AppEnv } from "../env";
import { declaredScopes, defineRoute, json, jsonBody, problems } from "../route";
import {
  ACCESS_TOKEN_TYPE,
  clientCredentials,
  clientCredentialsGrant,
  OAuthError,
  TOKEN_EXCHANGE,
  tokenExchangeGrant,
} from "./grants";
import { guardLogin } from "./login-guard";
import {
  AUTH_API_VERSION,
  JwksSchema,
  OAuthErrorSchema,
  RevocationSchema,
  RevokeRequestSchema,
  TokenRequestSchema,
  TokenResponseSchema,
} from "./schemas";
import { CLOCK_TOLERANCE } from "./settings";
import { type Grant, issueToken } from "./tokens";

export const TOKEN_PATH = "/auth/v1/token";
const tags = ["auth"];
const answer = answers(AUTH_API_VERSION);

const oauthError = (description: string) => json(OAuthErrorSchema, description);

const token = defineRoute("public", {
  method: "post",
  path: TOKEN_PATH,
  tags,
  summary: "Obtain an access token",
  description: [
    "OAuth 2 token endpoint, form-encoded (as OAuth clients send it) or JSON.",
    "",
    "- `grant_type=client_credentials`: a service account, authenticated by HTTP Basic or `client_id`/`client_secret` in the body.",
    `- \`grant_type=${TOKEN_EXCHANGE}\` (RFC 8693): \`subject_token\` is a JWT from a trusted external issuer (CHAMICORE_TRUSTED_ISSUERS); its groups map to roles.`,
    "",
    "The token's scopes are those its roles grant (capped per service account), narrowed by `scope` if given.",
    "In dev mode (CHAMICORE_DEV_MODE=true) client_credentials without a client gives an admin token.",
    "Errors follow RFC 6749 §5.2: `{error, error_description}`.",
    "",
    "Failed client-credentials logins are limited per client id and per source address (CHAMICORE_LOGIN_*): past the limit every attempt, even with the right secret, is refused with 429 problem+json and `Retry-After` until the window ends. Successful logins do not count.",
  ].join("\n"),
  request: {
    body: {
      // Not `required`: with both media types required, each validator would run on every request.
      required: false,
      content: {
        "application/x-www-form-urlencoded": { schema: TokenRequestSchema },
        "application/json": { schema: TokenRequestSchema },
      },
    },
  },
  responses: {
    200: json(TokenResponseSchema, "An access token"),
    400: oauthError("invalid_request, invalid_grant, invalid_scope or unsupported_grant_type"),
    401: oauthError("invalid_client: unknown client, wrong secret or disabled account"),
    ...problems(429),
  },
});

const tokenHandler: RouteHandler<typeof token, AppEnv> = async (c) => {
  const { settings, keyring } = c.var.deps.auth;
  const stores = c.var.stores.auth;
  const isJson = /^application\/json/i.test(c.req.header("Content-Type") ?? "");
  const parsed = TokenRequestSchema.safeParse((isJson ? c.req.valid("json") : c.req.valid("form")) ?? {});
  try {
    if (!parsed.success)
      throw new OAuthError(
        "invalid_request",
        "send grant_type and its parameters as application/x-www-form-urlencoded (or JSON)",
      );
    const body = parsed.data;
    let grant: Grant;
    if (body.grant_type === "client_credentials") {
      const client = clientCredentials(c.req.header("Authorization"), body);
      if (client) c.set("auditSubject", client.id); // the id tried, for the audit record (never the secret)
      await c.var.deps.auth.beforeFirstToken?.(stores);
      const login = () => clientCredentialsGrant(stores, settings, client, body);
      grant = client ? await guardLogin(c, client.id, login) : await login();
    } else if (body.grant_type === TOKEN_EXCHANGE) {
      grant = await tokenExchangeGrant(stores, settings, body);
    } else {
      throw new OAuthError(
        "unsupported_grant_type",
        `grant_type must be client_credentials or ${TOKEN_EXCHANGE}`,
      );
    }
    const issued = await issueToken(keyring, stores, settings, grant);
    c.var.deps.logger.info("token issued", {
      sub: grant.sub,
      jti: issued.jti,
      grant: body.grant_type === TOKEN_EXCHANGE ? "token-exchange" : "client_credentials",
    });
    return c.json(
      {
        access_token: issued.token,
        token_type: "Bearer" as const,
        expires_in: issued.expiresIn,
        scope: issued.scope,
        ...(body.grant_type === TOKEN_EXCHANGE ? { issued_token_type: ACCESS_TOKEN_TYPE } : {}),
      },
      200,
      { "Cache-Control": "no-store", Pragma: "no-cache" },
    );
  } catch (e) {
    if (!(e instanceof OAuthError)) throw e;
    c.var.deps.logger.info("token refused", { error: e.code, detail: e.message });
    const headers: Record<string, string> = { "Cache-Control": "no-store", Pragma: "no-cache" };
    if (e.status === 401) headers["WWW-Authenticate"] = 'Basic realm="chamicore"';
    return c.json({ error: e.code, error_description: e.message }, e.status, headers);
  }
};

const revoke = defineRoute("admin:auth", {
  method: "post",
  path: `${TOKEN_PATH}/revoke`,
  tags,
  summary: "Revoke a token by its jti",
  description:
    "The token fails on the very next request. The revocation is kept until the token would have expired, then pruned.",
  request: { body: jsonBody(RevokeRequestSchema) },
  responses: { 200: json(resourceSchema("Revocation", RevocationSchema), "Revoked"), ...problems(422) },
});
const revokeHandler: RouteHandler<typeof revoke, AppEnv> = async (c) => {
  const body = c.req.valid("json");
  const { tokenTtl } = c.var.deps.auth.settings;
  const expiresAt = body.expiresAt
    ? new Date(body.expiresAt)
    : new Date(Date.now() + (tokenTtl + CLOCK_TOLERANCE) * 1000);
  if (expiresAt.getTime() <= Date.now())
    throw new ApiError("validation", "expiresAt is in the past: such a token has already expired", {
      errors: [{ field: "expiresAt", message: "must be in the future" }],
    });
  const revocations = c.var.stores.auth.revocations;
  const row = await revocations.revoke({ jti: body.jti, reason: body.reason, expiresAt });
  // Workers have no timer to prune with; each revocation sweeps the expired ones.
  await revocations.prune(new Date());
  c.var.deps.logger.info("token revoked", { jti: body.jti, by: c.var.principal?.sub });
  return answer.one(c, "Revocation", row);
};

const RevocationListSchema = collectionSchema("Revocation", RevocationSchema);

const list = defineRoute("read:revocations", {
  method: "get",
  path: "/auth/v1/revocations",
  tags,
  summary: "Active revocations",
  description:
    "Revocations of tokens that have not expired yet, for verifiers that cache them. Poll with If-None-Match: a 304 means nothing changed.",
  request: {
    query: z.strictObject({
      active: z
        .enum(["true"])
        .optional()
        .openapi({ description: "Only active revocations (the only kind kept)" }),
    }),
  },
  responses: {
    200: json(RevocationListSchema, "Active revocations"),
    304: { description: "Not modified" },
  },
});
const listHandler: RouteHandler<typeof list, AppEnv> = async (c) => {
  const rows = await c.var.stores.auth.revocations.active(new Date());
  // The ETag (and 304) come from the etag middleware over this body (control/app.ts).
  return answer.all(
    c,
    "Revocation",
    rows.map((r) => r.spec),
  );
};

const jwks = defineRoute("public", {
  method: "get",
  path: "/.well-known/jwks.json",
  tags,
  summary: "Public keys that verify Chamicore tokens (JWKS)",
  responses: { 200: json(JwksSchema, "The key set") },
});
const jwksHandler: RouteHandler<typeof jwks, AppEnv> = async (c) =>
  c.json(await c.var.deps.auth.keyring.jwks(c.var.stores.auth.keys), 200, {
    "Cache-Control": "public, max-age=60",
  });

const discovery = defineRoute("public", {
  method: "get",
  path: "/.well-known/openid-configuration",
  tags,
  summary: "Discovery metadata (issuer, JWKS, token endpoint, algorithms)",
  responses: { 200: json(z.record(z.string(), z.unknown()).openapi("DiscoveryDocument"), "Metadata") },
});
const discoveryHandler: RouteHandler<typeof discovery, AppEnv> = (c) => {
  const base = baseUrlOf(c);
  return c.json(
    {
      issuer: c.var.deps.auth.settings.issuer,
      jwks_uri: `${base}/.well-known/jwks.json`,
      token_endpoint: `${base}${TOKEN_PATH}`,
      revocation_endpoint: `${base}${TOKEN_PATH}/revoke`,
      grant_types_supported: ["client_credentials", TOKEN_EXCHANGE],
      token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post"],
      id_token_signing_alg_values_supported: ["ES256", "RS256"],
      token_endpoint_auth_signing_alg_values_supported: ["ES256", "RS256"],
      response_types_supported: ["token"],
      subject_types_supported: ["public"],
      scopes_supported: declaredScopes(),
      claims_supported: ["iss", "sub", "aud", "exp", "iat", "iat_ms", "nbf", "jti", "scope", "roles", "sa"],
    },
    200,
    { "Cache-Control": "public, max-age=300" },
  );
};

export function registerTokenRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(token, tokenHandler, (result, c) => {
    if (!result.success)
      return c.json(
        {
          error: "invalid_request" as const,
          error_description: result.error.issues
            .map((i) => `${i.path.join(".") || "body"}: ${i.message}`)
            .join("; "),
        },
        400,
      );
  });
  app.openapi(revoke, revokeHandler);
  app.openapi(list, listHandler);
  app.openapi(jwks, jwksHandler);
  app.openapi(discovery, discoveryHandler);
}
