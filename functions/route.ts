/**
 * Route definitions: `createRoute` plus what every Chamicore route declares,
 * the scope it needs (enforced by one middleware, documented as
 * `x-required-scope`) and the problem responses it can give.
 */
import { createRoute, type OpenAPIHono, type RouteConfig } from "@hono/zod-openapi";
import { createMiddleware } from "hono/factory";
import { wellFormedInput } from "../shared/http/middleware";
import { PROBLEM_CONTENT_TYPE, ProblemSchema } from "../shared/problem";
import type { AppEnv } from "./env";

const DESCRIPTIONS: Record<number, string> = {
  304: "Not modified (If-None-Match matched)",
  400: "Malformed request: bad JSON, unknown fields, wrong types or query parameters",
  401: "Missing or invalid token",
  403: "Token lacks the required scope",
  404: "Not found",
  409: "Conflicts with existing data",
  412: "If-Match does not match the current etag",
  413: "Body too large",
  415: "Body is not JSON",
  422: "Valid JSON that breaks a rule (enum, pattern, reference)",
  428: "If-Match required",
  429: "Too many failed attempts: wait for Retry-After seconds",
  500: "Unexpected server error (see the server log)",
  503: "Not ready, or the database is unreachable for a moment: retry after Retry-After seconds",
};

/** Problem+json responses for the given status codes (304 has no body). */
export function problems(...codes: number[]) {
  const out: Record<
    number,
    { description: string; content?: Record<string, { schema: typeof ProblemSchema }> }
  > = {};
  for (const code of codes)
    out[code] =
      code === 304
        ? { description: DESCRIPTIONS[code]! }
        : {
            description: DESCRIPTIONS[code] ?? "Error",
            content: { [PROBLEM_CONTENT_TYPE]: { schema: ProblemSchema } },
          };
  return out;
}

/** "public" routes need no token (boot script, cloud-init serving, health). */
export type Scope = `${"read" | "write" | "delete" | "admin"}:${string}` | "public";

/** The security scheme name in the OpenAPI document. */
export const SECURITY_SCHEME = "chamicore";

const declared = new Set<string>();
/**
 * Every scope some route requires, in declaration order: the catalog that
 * roles' policies are matched against when a token is issued.
 */
export const declaredScopes = (): string[] => [...declared];

/**
 * Documents the token scheme with every scope declared so far. Call it after
 * the last route is defined: some routes are defined as they are registered.
 */
export function documentSecurity(app: OpenAPIHono<AppEnv>) {
  app.openAPIRegistry.registerComponent("securitySchemes", SECURITY_SCHEME, {
    type: "oauth2",
    description: "Chamicore JWT, sent as `Authorization: Bearer <token>`.",
    flows: {
      clientCredentials: {
        tokenUrl: "/auth/v1/token",
        scopes: Object.fromEntries(declaredScopes().map((s) => [s, s])),
      },
    },
  });
}

/** The middleware that enforces a route's scopes through `deps.authorize`. */
const authorizeFor = (anyOf: readonly string[]) =>
  createMiddleware<AppEnv>(async (c, next) => {
    if (anyOf.length > 0) await c.var.deps.authorize?.(c, anyOf);
    await next();
  });

/**
 * createRoute with a scope. Every route goes through here, so a route cannot
 * be registered without saying who may call it. A list of scopes means any
 * one of them will do.
 */
export function defineRoute<const R extends RouteConfig>(scope: Scope | readonly Scope[], config: R) {
  const anyOf = (typeof scope === "string" ? [scope] : [...scope]).filter((s) => s !== "public");
  if (typeof scope !== "string" && anyOf.length !== scope.length)
    throw new Error(`${config.method} ${config.path}: "public" cannot be combined with scopes`);
  for (const s of anyOf) declared.add(s);
  const isPublic = anyOf.length === 0;
  // 503: a request the database went away under (control/db/faults.ts) is the caller's to retry.
  const errorCodes = [400, 413, 415, ...(isPublic ? [] : [401, 403]), 500, 503];
  return createRoute({
    ...config,
    responses: { ...problems(...errorCodes), ...config.responses },
    // Unstorable text is refused once here, for every route, after the token check.
    middleware: [authorizeFor(anyOf), wellFormedInput] as const,
    // One security requirement per acceptable scope: OpenAPI reads the list as "any of".
    security: isPublic ? [] : anyOf.map((s) => ({ [SECURITY_SCHEME]: [s] })),
    "x-required-scope": isPublic ? "public" : anyOf.length === 1 ? anyOf[0] : anyOf,
  });
}

export const json = <S>(schema: S, description: string) => ({
  description,
  content: { "application/json": { schema } },
});

/** A JSON Merge Patch body (RFC 7396), accepted as merge-patch+json or plain JSON. */
export const mergePatchBody = <S>(schema: S) => ({
  required: true,
  content: { "application/merge-patch+json": { schema }, "application/json": { schema } },
});

export const jsonBody = <S>(schema: S, description?: string) => ({
  required: true,
  description,
  content: { "application/json": { schema } },
});
