/**
 * Browser sessions for the web UI: the access token lives in an HttpOnly,
 * SameSite=Strict cookie (never in the page's storage), and a request that
 * carries no Authorization header is authenticated by it. A write from a
 * cookie session must come from the UI's own origin (Sec-Fetch-Site or
 * Origin checked), so another site cannot make a logged-in browser change
 * anything. Tokens sent as `Authorization: Bearer` are unaffected.
 */
import type { Context } from "hono";
import { getCookie, setCookie } from "hono/cookie";
import { ApiError } from "../../shared/problem";
import type { AppEnv } from "../env";
import { bearerToken, type Grant, issueToken, type Principal, verifyToken } from "./tokens";

/** The cookie over HTTPS (the __Host- prefix pins it to this host, path / and Secure). */
export const SECURE_COOKIE = "__Host-chamicore-session";
/** The cookie on plain-HTTP localhost, where a browser refuses Secure cookies. */
export const LOCAL_COOKIE = "chamicore-session";

const SAFE = new Set(["GET", "HEAD", "OPTIONS"]);
const LOOPBACK = new Set(["localhost", "127.0.0.1", "[::1]"]);

/** Whether the browser reached us over HTTPS: the request itself, or the public URL in front of it. */
export function isSecure(c: Context<AppEnv>): boolean {
  const publicUrl = c.var.deps.serving.publicUrl;
  return new URL(c.req.url).protocol === "https:" || (publicUrl?.startsWith("https:") ?? false);
}

/**
 * The session cookie's name here, or an error a user can act on: over plain
 * HTTP only localhost may keep a session (anywhere else the token would
 * cross the network in the clear, and browsers refuse Secure cookies there).
 */
export function cookieName(c: Context<AppEnv>): string {
  if (isSecure(c)) return SECURE_COOKIE;
  if (LOOPBACK.has(new URL(c.req.url).hostname)) return LOCAL_COOKIE;
  throw new ApiError(
    "bad-request",
    "a browser session needs HTTPS: put the control plane behind TLS (and set CHAMICORE_PUBLIC_URL to its https:// URL), or open the UI on localhost",
  );
}

/** The origins a browser session's writes may come from: this request's, and the public URL's. */
function ownOrigins(c: Context<AppEnv>): string[] {
  const publicUrl = c.var.deps.serving.publicUrl;
  return [new URL(c.req.url).origin, ...(publicUrl ? [new URL(publicUrl).origin] : [])];
}

/** Refuses a write a browser made on another site's behalf (CSRF). */
export function checkSameOrigin(c: Context<AppEnv>): void {
  if (SAFE.has(c.req.method)) return;
  const site = c.req.header("Sec-Fetch-Site");
  const origin = c.req.header("Origin");
  if (site === "same-origin" || (origin !== undefined && ownOrigins(c).includes(origin))) return;
  throw new ApiError(
    "forbidden",
    "a write with the session cookie must come from the Chamicore UI's own origin; scripts and tools send Authorization: Bearer <token> instead",
  );
}

/**
 * The session cookie's token, if the request carries one: over HTTPS only
 * the __Host- cookie (a plain one could have been planted by a sibling host
 * or over plain HTTP), on localhost only the plain one.
 */
export function sessionCookie(c: Context<AppEnv>): string | undefined {
  return isSecure(c) ? getCookie(c, SECURE_COOKIE) : getCookie(c, LOCAL_COOKIE);
}

/**
 * The request's token: its Authorization header, else its session cookie
 * (for a write, only from the UI's own origin); 401 without either.
 */
export function requestToken(c: Context<AppEnv>): string {
  const authorization = c.req.header("Authorization");
  const cookie = authorization ? undefined : sessionCookie(c);
  if (cookie === undefined) return bearerToken(authorization);
  checkSameOrigin(c);
  return cookie;
}

/**
 * Issues a token for `grant` and sets it as the session cookie `name`
 * (from `cookieName`): the session's verified principal, also set as the
 * request's, for its audit record.
 */
export async function startSession(c: Context<AppEnv>, name: string, grant: Grant): Promise<Principal> {
  const { keyring, settings } = c.var.deps.auth;
  const stores = c.var.stores.auth;
  const issued = await issueToken(keyring, stores, settings, grant);
  const principal = await verifyToken(issued.token, keyring, stores, settings);
  c.set("principal", principal);
  c.var.deps.logger.info("session started", { sub: grant.sub, jti: issued.jti });
  setCookie(c, name, issued.token, {
    httpOnly: true,
    secure: name === SECURE_COOKIE,
    sameSite: "Strict",
    path: "/",
    maxAge: issued.expiresIn,
  });
  return principal;
}
