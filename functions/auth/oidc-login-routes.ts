/**
 * The web UI's login through an identity provider (oidc-login.ts): the
 * providers offered, the redirect to one, and its answer, which starts a
 * session like `POST /auth/v1/session` does. The last two are browser
 * navigations, so they answer with redirects: to the IdP, to the UI page
 * asked for, or to the UI's login page saying what went wrong.
 */
import { type OpenAPIHono, type RouteHandler, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { deleteCookie, getCookie, setCookie } from "hono/cookie";
import { UI_PATH } from "../../shared/http/ui-headers";
import { ApiError } from "../../shared/problem";
import { baseUrlOf } from "../base-url";
import type { AppEnv } from "../env";
import { defineRoute, json } from "../route";
import {
  beginLogin,
  decodePending,
  encodePending,
  finishLogin,
  type LoginIssuer,
  loginGrant,
  loginIssuers,
  PENDING_SECONDS,
  type PendingLogin,
  providerId,
  providerName,
  SESSION_CALLBACK_PATH,
  SESSION_LOGIN_PATH,
  SESSION_PROVIDERS_PATH,
} from "./oidc-login";
import { cookieName, SECURE_COOKIE, startSession } from "./session";

const tags = ["auth"];

/** The pending login's cookie, beside the session's: __Host- over HTTPS. */
const pendingCookie = (sessionCookieName: string) =>
  sessionCookieName === SECURE_COOKIE ? "__Host-chamicore-login" : "chamicore-login";

const ProvidersSchema = z
  .object({
    items: z.array(
      z.object({
        id: z.string().openapi({ example: "corp" }),
        name: z.string().openapi({ example: "Corporate login" }),
        issuer: z.string(),
        loginUrl: z.string().openapi({ example: "/auth/v1/session/login/corp" }),
      }),
    ),
  })
  .openapi("LoginProviders");

const providers = defineRoute("public", {
  method: "get",
  path: SESSION_PROVIDERS_PATH,
  tags,
  summary: "The identity providers the web UI offers for logging in",
  description:
    "The trusted issuers (CHAMICORE_TRUSTED_ISSUERS) that have `login` settings. Open a provider's `loginUrl` in the browser to log in there.",
  responses: { 200: json(ProvidersSchema, "The providers; none when no issuer has `login` settings") },
});
const providersHandler: RouteHandler<typeof providers, AppEnv> = (c) =>
  c.json({
    items: loginIssuers(c.var.deps.auth.settings.trustedIssuers).map((t) => ({
      id: providerId(t),
      name: providerName(t),
      issuer: t.issuer,
      loginUrl: SESSION_LOGIN_PATH.replace("{provider}", encodeURIComponent(providerId(t))),
    })),
  });

/** The UI's login page, saying what went wrong. */
function failed(c: Context<AppEnv>, e: unknown) {
  if (!(e instanceof ApiError)) throw e;
  c.set("auditAction", `login refused (${e.status})`);
  c.var.deps.logger.info("identity provider login refused", { status: e.status, reason: e.message });
  const to = `${UI_PATH}#/login?${new URLSearchParams({ failed: e.message })}`;
  return c.redirect(to, 302);
}

const issuerOf = (c: Context<AppEnv>, id: string): LoginIssuer => {
  const t = loginIssuers(c.var.deps.auth.settings.trustedIssuers).find((i) => providerId(i) === id);
  if (!t) throw new ApiError("not-found", `no identity provider '${id}' is offered for logging in`);
  return t;
};

const redirectUri = (c: Context<AppEnv>) => baseUrlOf(c) + SESSION_CALLBACK_PATH;

const begin = defineRoute("public", {
  method: "get",
  path: SESSION_LOGIN_PATH,
  tags,
  summary: "Log in to the web UI at an identity provider (a browser navigation)",
  description:
    "Redirects the browser to the provider's authorization endpoint (authorization code with PKCE, from its discovery document); it comes back to `/auth/v1/session/callback`. Failures redirect to the UI's login page with the reason.",
  request: {
    params: z.object({
      provider: z.string().openapi({ param: { name: "provider", in: "path" }, example: "corp" }),
    }),
    query: z.object({
      next: z.string().optional().openapi({ description: "The UI page to open after, e.g. /inventory" }),
    }),
  },
  responses: { 302: { description: "To the identity provider, or to the UI's login page saying why not" } },
});
const beginHandler = (async (c: Context<AppEnv>) => {
  try {
    const name = cookieName(c);
    const t = issuerOf(c, c.req.param("provider") ?? "");
    const { url, pending } = await beginLogin(t, redirectUri(c), c.req.query("next") ?? "/");
    setCookie(c, pendingCookie(name), encodePending(pending), {
      httpOnly: true,
      secure: name === SECURE_COOKIE,
      // Lax, not Strict: the IdP's redirect back is a navigation from another site.
      sameSite: "Lax",
      path: "/",
      maxAge: PENDING_SECONDS,
    });
    c.header("Cache-Control", "no-store");
    return c.redirect(url, 302);
  } catch (e) {
    return failed(c, e);
  }
}) as unknown as RouteHandler<typeof begin, AppEnv>;

const callback = defineRoute("public", {
  method: "get",
  path: SESSION_CALLBACK_PATH,
  tags,
  summary: "The identity provider's answer to a web UI login (a browser navigation)",
  description:
    "The redirect URI to register at the provider. The code is exchanged with the PKCE verifier; the ID token's state, nonce, signature and audience (the `login.clientId`) are checked and its groups mapped to roles as the token exchange maps them. Success sets the session cookie and redirects to the UI page the login started from; failure redirects to the UI's login page with the reason.",
  request: {
    query: z.object({
      code: z.string().optional(),
      state: z.string().optional(),
      error: z.string().optional(),
      error_description: z.string().optional(),
    }),
  },
  responses: { 302: { description: "To the UI: the page asked for, or the login page saying why not" } },
});
const callbackHandler = (async (c: Context<AppEnv>) => {
  let pending: PendingLogin | undefined;
  try {
    const name = cookieName(c);
    const cookie = pendingCookie(name);
    pending = decodePending(getCookie(c, cookie));
    // Used once, whatever the outcome.
    deleteCookie(c, cookie, { path: "/", secure: name === SECURE_COOKIE });
    c.header("Cache-Control", "no-store");
    if (!pending)
      throw new ApiError(
        "bad-request",
        "no login was started from this browser, or it took longer than 10 minutes: log in again",
      );
    const t = issuerOf(c, pending.provider);
    const claims = await finishLogin(t, pending, redirectUri(c), new URL(c.req.url).searchParams);
    c.set("auditSubject", `${t.subjectPrefix}${String(claims.sub)}`);
    const stores = c.var.stores.auth;
    await c.var.deps.auth.beforeFirstToken?.(stores);
    await startSession(c, name, await loginGrant(stores, t, claims));
    c.set("auditAction", "session started");
    return c.redirect(`${UI_PATH}#${pending.next}`, 302);
  } catch (e) {
    return failed(c, e);
  }
}) as unknown as RouteHandler<typeof callback, AppEnv>;

export function registerOidcLoginRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(providers, providersHandler);
  app.openapi(begin, beginHandler);
  app.openapi(callback, callbackHandler);
}
