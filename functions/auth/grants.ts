/**
 * The grants of the token endpoint: who the caller is and what its token
 * may carry. Errors are OAuth's own (RFC 6749 §5.2), not problem+json,
 * because OAuth clients parse them.
 */
import { createRemoteJWKSet, decodeJwt, errors, jwtVerify } from "jose";
import { hashSecret, randomSecret, verifySecret } from "../../shared/auth/crypto";
import { unstorable } from "../../shared/http/well-formed";
import { declaredScopes } from "../route";
import type { OAuthErrorCode, TokenRequest } from "./schemas";
import { capScopes } from "./scopes";
import { type AuthSettings, CLOCK_TOLERANCE, type TrustedIssuer } from "./settings";
import type { AuthStores } from "./store";
import type { Grant } from "./tokens";

export const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
export const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";
const SUBJECT_TOKEN_TYPES = new Set([
  "urn:ietf:params:oauth:token-type:jwt",
  "urn:ietf:params:oauth:token-type:id_token",
  ACCESS_TOKEN_TYPE,
]);

export class OAuthError extends Error {
  constructor(
    readonly code: OAuthErrorCode,
    message: string,
    readonly status: 400 | 401 = 400,
  ) {
    super(message);
  }
}

/** Client credentials from HTTP Basic (RFC 6749 §2.3.1) or the body. */
export function clientCredentials(
  authorization: string | undefined,
  body: TokenRequest,
): { id: string; secret: string; basic: boolean } | undefined {
  const m = authorization ? /^Basic\s+(\S+)\s*$/i.exec(authorization) : null;
  if (m) {
    let decoded: string;
    try {
      decoded = atob(m[1]!);
    } catch {
      throw new OAuthError("invalid_client", "malformed HTTP Basic credentials", 401);
    }
    const i = decoded.indexOf(":");
    if (i < 0) throw new OAuthError("invalid_client", "malformed HTTP Basic credentials", 401);
    // Basic credentials are form-urlencoded first (RFC 6749 §2.3.1).
    const dec = (s: string) => {
      try {
        return decodeURIComponent(s.replace(/\+/g, " "));
      } catch {
        throw new OAuthError("invalid_client", "malformed HTTP Basic credentials", 401);
      }
    };
    const id = dec(decoded.slice(0, i));
    // An id no store can hold (NUL) names no account: answered like any unknown one, without a query.
    if (unstorable(id)) throw new OAuthError("invalid_client", "unknown client or wrong secret", 401);
    return { id, secret: dec(decoded.slice(i + 1)), basic: true };
  }
  if (body.client_id !== undefined || body.client_secret !== undefined) {
    if (!body.client_id || !body.client_secret)
      throw new OAuthError("invalid_request", "client_id and client_secret go together");
    return { id: body.client_id, secret: body.client_secret, basic: false };
  }
  return undefined;
}

/** Narrows to the requested `scope` (space-separated), refusing what is not allowed. */
export function narrow(allowed: string[], requested: string | undefined): string[] {
  if (!requested?.trim()) return allowed;
  const want = requested.split(" ").filter(Boolean);
  const refused = want.filter((s) => !allowed.includes(s));
  if (refused.length > 0) throw new OAuthError("invalid_scope", `not allowed: ${refused.join(" ")}`);
  return allowed.filter((s) => want.includes(s));
}

let decoy: Promise<string> | undefined;
const decoyHash = () => {
  decoy ??= hashSecret(randomSecret());
  return decoy;
};

export async function clientCredentialsGrant(
  stores: AuthStores,
  settings: AuthSettings,
  client: { id: string; secret: string; basic: boolean } | undefined,
  body: TokenRequest,
): Promise<Grant> {
  const catalog = declaredScopes();
  if (!client) {
    if (settings.devMode)
      return { sub: "dev", roles: ["admin"], scopes: narrow(catalog, body.scope), sa: false };
    throw new OAuthError(
      "invalid_client",
      "client authentication is required: HTTP Basic, or client_id and client_secret in the body",
      401,
    );
  }
  const issuedAt = Date.now();
  const record = await stores.accounts.get(client.id);
  // An unknown client costs the same hash as a wrong secret, so timing does not tell which ids exist.
  if (!(await verifySecret(client.secret, record?.secretHash ?? (await decoyHash()))) || !record)
    throw new OAuthError("invalid_client", "unknown client or wrong secret", 401);
  const account = record.account.spec;
  if (!account.enabled)
    throw new OAuthError("invalid_client", `service account '${account.id}' is disabled`, 401);
  const { roles, scopes } = await stores.policies.grants(account.id, [], catalog);
  const allowed = capScopes(scopes, account.scopes);
  if (allowed.length === 0)
    throw new OAuthError(
      "invalid_scope",
      `service account '${account.id}' has no scopes: give it a role (roles: ${roles.join(", ") || "none"})`,
    );
  return { sub: account.id, roles, scopes: narrow(allowed, body.scope), sa: true, issuedAt };
}

// One remote key set per trusted issuer per isolate: jose caches and refreshes its keys.
const remoteKeySets = new Map<string, ReturnType<typeof createRemoteJWKSet>>();
const keySetOf = (t: TrustedIssuer) => {
  const set = remoteKeySets.get(t.jwksUri) ?? createRemoteJWKSet(new URL(t.jwksUri));
  remoteKeySets.set(t.jwksUri, set);
  return set;
};

function refusal(e: unknown, what: string): string {
  if (e instanceof errors.JWTExpired) return `${what} has expired`;
  if (e instanceof errors.JWTClaimValidationFailed) return `${what} claim '${e.claim}' is not accepted`;
  if (e instanceof errors.JWKSNoMatchingKey) return `${what} was signed by a key its issuer does not publish`;
  if (e instanceof errors.JWSSignatureVerificationFailed) return `${what} signature does not verify`;
  if (e instanceof errors.JWKSTimeout || !(e instanceof errors.JOSEError))
    return "the issuer's keys could not be fetched";
  return `${what} is not valid`;
}

/**
 * An external IdP's JWT checked against that issuer's JWKS: its claims, or
 * `invalid_request` saying why not. `audience` is the issuer's own setting
 * for token exchange; the web UI's login passes its client id instead (an
 * ID token is addressed to the client that asked for it).
 */
export async function verifyExternal(
  trusted: TrustedIssuer,
  token: string,
  {
    audience = trusted.audience,
    what = "subject_token",
  }: { audience?: string | string[]; what?: string } = {},
): Promise<Record<string, unknown>> {
  try {
    const { payload } = await jwtVerify(token, keySetOf(trusted), {
      issuer: trusted.issuer,
      audience,
      clockTolerance: CLOCK_TOLERANCE,
      requiredClaims: ["sub", "exp"],
    });
    return payload;
  } catch (e) {
    throw new OAuthError("invalid_request", refusal(e, what));
  }
}

/**
 * What a verified external identity is granted: its groups mapped to roles
 * (roleMap, defaultRoles), plus any role the prefixed subject is a member
 * of; `invalid_request` when that is nothing.
 */
export async function externalGrant(
  stores: AuthStores,
  trusted: TrustedIssuer,
  claims: Record<string, unknown>,
  scope?: string,
): Promise<Grant> {
  const claim = claims[trusted.rolesClaim];
  const groups = typeof claim === "string" ? [claim] : Array.isArray(claim) ? claim.map(String) : [];
  const mapped = [...new Set([...trusted.defaultRoles, ...groups.flatMap((g) => trusted.roleMap[g] ?? [])])];
  const sub = `${trusted.subjectPrefix}${String(claims.sub)}`;
  const { roles, scopes } = await stores.policies.grants(sub, mapped, declaredScopes());
  if (scopes.length === 0)
    throw new OAuthError(
      "invalid_request",
      `'${sub}' holds no Chamicore role: map its ${trusted.rolesClaim} in CHAMICORE_TRUSTED_ISSUERS or add it to a role`,
    );
  const extra: Record<string, string> = { idp: trusted.issuer };
  for (const k of ["name", "email", "preferred_username"])
    if (typeof claims[k] === "string") extra[k] = claims[k] as string;
  return { sub, roles, scopes: narrow(scopes, scope), sa: false, extra };
}

/**
 * RFC 8693: an external IdP's JWT, checked against that issuer's JWKS, for a
 * Chamicore token. A subject token that is invalid or unacceptable by policy
 * is `invalid_request`, as RFC 8693 §2.2.2 requires (not RFC 6749's invalid_grant).
 */
export async function tokenExchangeGrant(
  stores: AuthStores,
  settings: AuthSettings,
  body: TokenRequest,
): Promise<Grant> {
  if (!body.subject_token) throw new OAuthError("invalid_request", "subject_token is required");
  if (!body.subject_token_type || !SUBJECT_TOKEN_TYPES.has(body.subject_token_type))
    throw new OAuthError(
      "invalid_request",
      `subject_token_type must be one of: ${[...SUBJECT_TOKEN_TYPES].join(", ")}`,
    );
  if (body.requested_token_type && body.requested_token_type !== ACCESS_TOKEN_TYPE)
    throw new OAuthError("invalid_request", `requested_token_type can only be ${ACCESS_TOKEN_TYPE}`);
  let iss: string | undefined;
  try {
    iss = decodeJwt(body.subject_token).iss;
  } catch {
    throw new OAuthError("invalid_request", "subject_token is not a JWT");
  }
  const trusted = settings.trustedIssuers.find((t) => t.issuer === iss);
  if (!trusted) throw new OAuthError("invalid_request", `issuer '${iss ?? "(none)"}' is not trusted`);
  const claims = await verifyExternal(trusted, body.subject_token);
  return externalGrant(stores, trusted, claims, body.scope);
}
