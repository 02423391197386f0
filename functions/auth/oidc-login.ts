/**
 * The web UI's login through an external identity provider: OpenID Connect
 * authorization code with PKCE, run by the control plane (the browser only
 * follows redirects, so no token ever reaches the page, and the strict CSP
 * needs no IdP origin). The ID token that comes back is checked again
 * against the issuer's JWKS and mapped to roles exactly as the token
 * exchange maps a subject token (grants.ts).
 *
 * Between the redirect to the IdP and its answer, the pending login (state,
 * nonce, PKCE verifier, where to go next) waits in a short-lived HttpOnly
 * cookie: nothing is stored server-side, so any instance (or isolate) can
 * take the answer.
 */
import * as oidc from "openid-client";
import { ApiError } from "../../shared/problem";
import { externalGrant, OAuthError, verifyExternal } from "./grants";
import type { TrustedIssuer } from "./settings";
import type { AuthStores } from "./store";
import type { Grant } from "./tokens";

export const SESSION_PROVIDERS_PATH = "/auth/v1/session/providers";
export const SESSION_LOGIN_PATH = "/auth/v1/session/login/{provider}";
export const SESSION_CALLBACK_PATH = "/auth/v1/session/callback";

/** An issuer offered on the login page: its `login` settings are there. */
export type LoginIssuer = TrustedIssuer & { login: NonNullable<TrustedIssuer["login"]> };

/** A provider's id in URLs: its subject prefix without the ':' (unique per issuer, settings.ts). */
export const providerId = (t: TrustedIssuer) => t.subjectPrefix.slice(0, -1);

export const loginIssuers = (all: TrustedIssuer[]): LoginIssuer[] =>
  all.filter((t): t is LoginIssuer => t.login !== undefined);

/** The button's text. */
export const providerName = (t: LoginIssuer) => t.login.name ?? new URL(t.issuer).host;

/** How long a login may take at the IdP: the pending cookie lives this long. */
export const PENDING_SECONDS = 600;

/** What waits in the pending cookie. */
export interface PendingLogin {
  provider: string;
  state: string;
  nonce: string;
  verifier: string;
  /** The UI page to open after (a hash path, "/..."). */
  next: string;
}

export const encodePending = (p: PendingLogin) => btoa(JSON.stringify(p)).replace(/=+$/, "");

export function decodePending(value: string | undefined): PendingLogin | undefined {
  if (!value) return undefined;
  try {
    const p = JSON.parse(atob(value)) as Partial<PendingLogin>;
    const fields = [p.provider, p.state, p.nonce, p.verifier, p.next];
    return fields.every((f) => typeof f === "string") ? (p as PendingLogin) : undefined;
  } catch {
    return undefined;
  }
}

/** Only a page of the UI itself: "/x", never "//host" or a URL. */
export const safeNext = (next: string | undefined) =>
  next && /^\/(?![/\\])/.test(next) && next.length <= 2048 ? next : "/";

// The issuer's discovery, once per issuer per isolate for ten minutes; a failure is not kept.
const DISCOVERY_TTL_MS = 600_000;
const configs = new Map<string, { at: number; config: Promise<oidc.Configuration> }>();

function configOf(t: LoginIssuer): Promise<oidc.Configuration> {
  const key = `${t.issuer}\n${t.login.clientId}`;
  const held = configs.get(key);
  if (held && Date.now() - held.at < DISCOVERY_TTL_MS) return held.config;
  const auth = t.login.clientSecret ? oidc.ClientSecretBasic(t.login.clientSecret) : oidc.None();
  const config = oidc.discovery(new URL(t.issuer), t.login.clientId, undefined, auth, {
    timeout: 10,
    // An issuer the admin named with http:// (a lab, loopback) is taken at their word.
    ...(t.issuer.startsWith("http:") ? { execute: [oidc.allowInsecureRequests] } : {}),
  });
  configs.set(key, { at: Date.now(), config });
  config.catch(() => configs.delete(key));
  return config;
}

/** What went wrong at or with the IdP, as a user can act on it. */
function failure(t: LoginIssuer, e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof OAuthError) return new ApiError("forbidden", e.message);
  if (e instanceof oidc.AuthorizationResponseError || e instanceof oidc.ResponseBodyError)
    return new ApiError(
      "forbidden",
      `${providerName(t)} refused the login: ${e.error}${e.error_description ? ` (${e.error_description})` : ""}`,
    );
  // openid-client's own errors are general ("invalid response encountered"); their causes say what.
  const reasons: string[] = [];
  for (let x: unknown = e; x instanceof Error && reasons.length < 3; x = x.cause) reasons.push(x.message);
  return new ApiError("bad-gateway", `${providerName(t)} could not be used to log in: ${reasons.join(": ")}`);
}

/** Where to send the browser to log in at `t`, and the pending login to keep until it returns. */
export async function beginLogin(
  t: LoginIssuer,
  redirectUri: string,
  next: string,
): Promise<{ url: string; pending: PendingLogin }> {
  try {
    const config = await configOf(t);
    const pending: PendingLogin = {
      provider: providerId(t),
      state: oidc.randomState(),
      nonce: oidc.randomNonce(),
      verifier: oidc.randomPKCECodeVerifier(),
      next: safeNext(next),
    };
    const url = oidc.buildAuthorizationUrl(config, {
      redirect_uri: redirectUri,
      scope: t.login.scope,
      state: pending.state,
      nonce: pending.nonce,
      code_challenge: await oidc.calculatePKCECodeChallenge(pending.verifier),
      code_challenge_method: "S256",
    });
    return { url: url.href, pending };
  } catch (e) {
    throw failure(t, e);
  }
}

/**
 * The IdP's answer (`query`, the callback's query string) turned into the
 * user's verified claims: the code exchanged with the verifier, the ID
 * token's state, nonce, signature and audience checked.
 */
export async function finishLogin(
  t: LoginIssuer,
  pending: PendingLogin,
  redirectUri: string,
  query: URLSearchParams,
): Promise<Record<string, unknown>> {
  try {
    if (query.get("state") !== pending.state)
      throw new ApiError(
        "bad-request",
        "this answer is not for the login this browser started: log in again",
      );
    const config = await configOf(t);
    // The callback as the IdP was told it (the public URL), with the answer's parameters.
    const answer = new URL(redirectUri);
    answer.search = query.toString();
    const tokens = await oidc.authorizationCodeGrant(config, answer, {
      pkceCodeVerifier: pending.verifier,
      expectedState: pending.state,
      expectedNonce: pending.nonce,
      idTokenExpected: true,
    });
    // openid-client trusts the token endpoint's TLS for the ID token; its signature is checked here too.
    return await verifyExternal(t, tokens.id_token!, { audience: t.login.clientId, what: "the ID token" });
  } catch (e) {
    throw failure(t, e);
  }
}

/** What the user is granted, mapped as the token exchange maps it; 403 saying why when nothing. */
export async function loginGrant(
  stores: AuthStores,
  t: LoginIssuer,
  claims: Record<string, unknown>,
): Promise<Grant> {
  try {
    return await externalGrant(stores, t, claims);
  } catch (e) {
    throw failure(t, e);
  }
}
