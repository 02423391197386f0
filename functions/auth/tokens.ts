/**
 * Chamicore access tokens: issued here, verified by the one authorize
 * middleware. A token carries everything a request needs (scopes, roles), so
 * verifying costs a signature check and one revocation lookup.
 */
import { decodeProtectedHeader, errors, jwtVerify, SignJWT } from "jose";
import { ApiError } from "../../shared/problem";
import type { Keyring } from "./keyring";
import { type AuthSettings, CLOCK_TOLERANCE } from "./settings";
import type { AuthStores } from "./store";

/** What a token says of its holder: the grant a token endpoint decided on. */
export interface Grant {
  sub: string;
  roles: string[];
  scopes: string[];
  sa: boolean;
  extra?: Record<string, string>;
  /**
   * When the grant read the account (epoch ms): the token's issue time, so
   * that a token granted on an account state read before a secret reset or
   * a disable counts as issued before it.
   */
  issuedAt?: number;
}

export interface Principal {
  sub: string;
  scopes: ReadonlySet<string>;
  roles: string[];
  /** A service account's token. */
  sa: boolean;
  jti: string;
  /** Expiry, seconds since the epoch. */
  exp: number;
}

export interface Issued {
  token: string;
  expiresIn: number;
  scope: string;
  jti: string;
}

/**
 * Issue time in epoch milliseconds. `iat` has whole seconds, too coarse to
 * tell a token issued just before a secret reset from one issued just
 * after it in the same second; subject revocations compare with this.
 */
export const ISSUED_AT_MS_CLAIM = "iat_ms";

export async function issueToken(
  keyring: Keyring,
  stores: AuthStores,
  settings: AuthSettings,
  /** What a grant decided; `issuedAt` (epoch ms) defaults to now. */
  claims: Grant,
): Promise<Issued> {
  const signer = await keyring.signingKey(stores.keys);
  const jti = crypto.randomUUID();
  const issuedAt = claims.issuedAt ?? Date.now();
  const now = Math.floor(issuedAt / 1000);
  const scope = claims.scopes.join(" ");
  const jwt = new SignJWT({
    ...claims.extra,
    scope,
    roles: claims.roles,
    ...(claims.sa ? { sa: true } : {}),
    [ISSUED_AT_MS_CLAIM]: issuedAt,
  })
    .setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: "at+jwt" })
    .setIssuer(settings.issuer)
    .setAudience(settings.audience)
    .setSubject(claims.sub)
    .setIssuedAt(now)
    .setNotBefore(now)
    .setExpirationTime(now + settings.tokenTtl)
    .setJti(jti);
  return { token: await jwt.sign(signer.key), expiresIn: settings.tokenTtl, scope, jti };
}

/** RFC 6750 §3: the challenge that goes with a 401. */
function unauthorized(detail: string, withError = true): ApiError {
  const challenge = withError
    ? `Bearer realm="chamicore", error="invalid_token", error_description="${detail.replace(/"/g, "'")}"`
    : `Bearer realm="chamicore"`;
  return new ApiError("unauthorized", detail, { headers: { "WWW-Authenticate": challenge } });
}

/** Why jose refused a token, in words an operator can act on. */
function explain(e: unknown): string {
  if (e instanceof errors.JWTExpired) return "token has expired";
  if (e instanceof errors.JWTClaimValidationFailed) {
    if (e.claim === "nbf") return "token is not valid yet";
    if (e.claim === "iss") return "token was issued by another issuer";
    if (e.claim === "aud") return "token is not meant for this audience";
    return `token claim '${e.claim}' is invalid`;
  }
  if (e instanceof errors.JOSEAlgNotAllowed) return "token signing algorithm is not accepted";
  if (e instanceof errors.JWSSignatureVerificationFailed) return "token signature does not verify";
  if (e instanceof errors.JWTInvalid || e instanceof errors.JWSInvalid) return "token is malformed";
  return "token is invalid";
}

/**
 * A verified token's issue time: `iat_ms` when it agrees with `iat`, else
 * the first instant of the `iat` second, so that a token without it (issued
 * before this claim existed) counts as issued before a revocation made in
 * that same second.
 */
function issuedAtOf(payload: Record<string, unknown>): Date {
  const iat = Number(payload.iat);
  const ms = payload[ISSUED_AT_MS_CLAIM];
  if (typeof ms === "number" && Number.isSafeInteger(ms) && Math.floor(ms / 1000) === iat)
    return new Date(ms);
  return new Date(iat * 1000);
}

/** The bearer token of a request, or a 401 saying what is wrong with the header. */
export function bearerToken(header: string | undefined): string {
  if (!header) throw unauthorized("a bearer token is required (Authorization: Bearer <token>)", false);
  const m = /^Bearer +([A-Za-z0-9_.~+/=-]+)\s*$/i.exec(header);
  if (!m) throw unauthorized("Authorization header must be 'Bearer <token>'");
  return m[1]!;
}

export async function verifyToken(
  token: string,
  keyring: Keyring,
  stores: AuthStores,
  settings: AuthSettings,
): Promise<Principal> {
  let kid: string | undefined;
  try {
    const header = decodeProtectedHeader(token);
    kid = header.kid;
    if (header.alg === "none" || !header.alg) throw unauthorized("unsigned tokens are not accepted");
  } catch (e) {
    if (e instanceof ApiError) throw e;
    throw unauthorized("token is malformed");
  }
  if (!kid) throw unauthorized("token has no key id (kid)");
  const key = await keyring.verificationKey(stores.keys, kid);
  if (!key) throw unauthorized("token was signed by an unknown or removed key");
  let payload: Record<string, unknown>;
  try {
    ({ payload } = await jwtVerify(token, key, {
      algorithms: ["ES256", "RS256"],
      issuer: settings.issuer,
      audience: settings.audience,
      clockTolerance: CLOCK_TOLERANCE,
      requiredClaims: ["exp", "iat", "jti", "sub"],
    }));
  } catch (e) {
    throw unauthorized(explain(e));
  }
  const jti = String(payload.jti);
  const sub = String(payload.sub);
  const revoked = await stores.revocations.revokedBy({ jti, sub, issuedAt: issuedAtOf(payload) }, new Date());
  if (revoked)
    throw unauthorized(
      revoked.subject ? `token has been revoked: ${revoked.reason}` : "token has been revoked",
    );
  const scope = typeof payload.scope === "string" ? payload.scope : "";
  return {
    sub,
    scopes: new Set(scope.split(" ").filter(Boolean)),
    roles: Array.isArray(payload.roles) ? payload.roles.map(String) : [],
    sa: payload.sa === true,
    jti,
    exp: Number(payload.exp),
  };
}
