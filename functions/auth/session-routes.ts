/**
 * `/auth/v1/session`: the web UI's login, who-am-I and logout. Logging in
 * is the client-credentials grant (same accounts, same failed-login limits)
 * answered with a session cookie instead of a token in the body; logging
 * out revokes the session's token, so a copied cookie dies with it.
 */
import { type OpenAPIHono, type RouteHandler, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { deleteCookie } from "hono/cookie";
import { ApiError } from "../../shared/problem";
import type { AppEnv } from "../env";
import { defineRoute, json, jsonBody, problems } from "../route";
import { clientCredentialsGrant, OAuthError } from "./grants";
import { guardLogin } from "./login-guard";
import {
  cookieName,
  LOCAL_COOKIE,
  requestToken,
  SECURE_COOKIE,
  sessionCookie,
  startSession,
} from "./session";
import { CLOCK_TOLERANCE } from "./settings";
import { type Principal, verifyToken } from "./tokens";

export const SESSION_PATH = "/auth/v1/session";
const tags = ["auth"];

const LoginSchema = z
  .strictObject({
    clientId: z.string().min(1).max(255).openapi({ example: "ops" }),
    clientSecret: z.string().min(1).max(1024),
  })
  .openapi("SessionLogin");

const SessionSchema = z
  .object({
    subject: z.string().nullable().openapi({ example: "ops", description: "null: nobody is logged in" }),
    roles: z.array(z.string()),
    scopes: z
      .array(z.string())
      .openapi({ description: "What the session may do: the UI shows what these allow" }),
    expiresAt: z
      .string()
      .nullable()
      .openapi({ format: "date-time", description: "When the session ends: log in again then" }),
  })
  .openapi("Session");

/** What GET answers to a request with no credentials at all: asking is not an error. */
const NOBODY = { subject: null, roles: [], scopes: [], expiresAt: null };

const sessionOf = (p: Principal) => ({
  subject: p.sub,
  roles: p.roles,
  scopes: [...p.scopes].sort(),
  expiresAt: new Date(p.exp * 1000).toISOString(),
});

const login = defineRoute("public", {
  method: "post",
  path: SESSION_PATH,
  tags,
  summary: "Log in to the web UI",
  description:
    "A service account's client id and secret, as the token endpoint takes them; the token is set as an HttpOnly, SameSite=Strict session cookie (Secure over HTTPS; plain HTTP only on localhost), never returned. Failed logins count against the same limits as the token endpoint. With the cookie, writes must come from this origin.",
  request: { body: jsonBody(LoginSchema) },
  responses: {
    200: json(SessionSchema, "Logged in; the cookie is set"),
    ...problems(401, 429),
  },
});

const loginHandler: RouteHandler<typeof login, AppEnv> = async (c) => {
  const name = cookieName(c);
  const { clientId, clientSecret } = c.req.valid("json");
  const { settings } = c.var.deps.auth;
  const stores = c.var.stores.auth;
  c.set("auditSubject", clientId); // the id tried, for the audit record (never the secret)
  await c.var.deps.auth.beforeFirstToken?.(stores);
  let grant: Awaited<ReturnType<typeof clientCredentialsGrant>>;
  try {
    grant = await guardLogin(c, clientId, () =>
      clientCredentialsGrant(
        stores,
        settings,
        { id: clientId, secret: clientSecret, basic: false },
        {
          grant_type: "client_credentials",
        },
      ),
    );
  } catch (e) {
    if (!(e instanceof OAuthError)) throw e;
    c.var.deps.logger.info("session refused", { clientId, error: e.code });
    throw new ApiError("unauthorized", e.message);
  }
  const principal = await startSession(c, name, grant);
  return c.json(sessionOf(principal), 200, { "Cache-Control": "no-store" });
};

/** The caller's verified session (cookie or bearer token), or 401. */
async function current(c: Context<AppEnv>): Promise<Principal> {
  const { keyring, settings } = c.var.deps.auth;
  const principal = await verifyToken(requestToken(c), keyring, c.var.stores.auth, settings);
  c.set("principal", principal);
  return principal;
}

const whoami = defineRoute("public", {
  method: "get",
  path: SESSION_PATH,
  tags,
  summary: "The current session: who, and what it may do",
  description:
    "Answers for the session cookie, or for a bearer token; `subject: null` when the request carries neither (nobody is logged in), 401 when what it carries is not valid (expired, revoked).",
  responses: { 200: json(SessionSchema, "The session"), ...problems(401) },
});
const whoamiHandler: RouteHandler<typeof whoami, AppEnv> = async (c) => {
  const none = !c.req.header("Authorization") && sessionCookie(c) === undefined;
  return c.json(none ? NOBODY : sessionOf(await current(c)), 200, { "Cache-Control": "no-store" });
};

const logout = defineRoute("public", {
  method: "delete",
  path: SESSION_PATH,
  tags,
  summary: "Log out: the session's token is revoked and the cookie cleared",
  description:
    "The cookie is cleared even when its token has expired or was revoked already (204); 401 only without any credentials.",
  responses: { 204: { description: "Logged out" }, ...problems(401) },
});
const logoutHandler: RouteHandler<typeof logout, AppEnv> = async (c) => {
  // The cookie goes whatever its token's state: an expired or revoked session is over already.
  const token = requestToken(c);
  const { keyring, settings } = c.var.deps.auth;
  let p: Principal | undefined;
  try {
    p = await verifyToken(token, keyring, c.var.stores.auth, settings);
  } catch (e) {
    if (!(e instanceof ApiError && e.status === 401)) throw e;
  }
  if (p) {
    c.set("principal", p);
    const revocations = c.var.stores.auth.revocations;
    await revocations.revoke({
      jti: p.jti,
      reason: "logged out",
      expiresAt: new Date((p.exp + CLOCK_TOLERANCE) * 1000),
    });
    await revocations.prune(new Date());
    c.var.deps.logger.info("session ended", { sub: p.sub, jti: p.jti });
  }
  for (const name of [SECURE_COOKIE, LOCAL_COOKIE])
    deleteCookie(c, name, { path: "/", secure: name === SECURE_COOKIE });
  return c.body(null, 204);
};

export function registerSessionRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(login, loginHandler);
  app.openapi(whoami, whoamiHandler);
  app.openapi(logout, logoutHandler);
}
