/**
 * Auth settings, the same on Node and Workers: each entry parses its own
 * environment into this shape (control/config.ts, control/worker.ts).
 */
import { z } from "zod";
import type { SecretKey } from "../../shared/auth/crypto";
import type { LoginThrottle } from "./login-throttle";

/** An external identity provider whose JWTs may be exchanged for Chamicore tokens (RFC 8693). */
export const TrustedIssuerSchema = z.strictObject({
  /** Must equal the `iss` claim of its tokens. */
  issuer: z.string().min(1),
  /** Where its public keys are (the `jwks_uri` of its discovery document). */
  jwksUri: z.url(),
  /** Accepted `aud` values: tokens must be meant for Chamicore. */
  audience: z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]),
  /** Claim holding the user's groups or roles (a string or a list). */
  rolesClaim: z.string().min(1).default("groups"),
  /** IdP group → Chamicore roles. Groups not listed grant nothing. */
  roleMap: z.record(z.string(), z.array(z.string())).default({}),
  /** Roles every user of this issuer gets. */
  defaultRoles: z.array(z.string()).default([]),
  /**
   * Prefix of the Chamicore subject (`sub` claim, role memberships). It ends
   * with ':', which no role name or service-account id contains, so an
   * IdP user can never be taken for a role or a service account.
   */
  subjectPrefix: z
    .string()
    .regex(/^[A-Za-z0-9._-]+:$/, "must be letters, digits, '._-' ending with ':' (e.g. 'corp:')")
    .default("ext:"),
  /**
   * Offer this issuer on the web UI's login page (OpenID Connect
   * authorization code with PKCE, run by the control plane). The IdP must
   * know the client and its redirect URI, `<public URL>/auth/v1/session/callback`.
   */
  login: z
    .strictObject({
      /** The client registered at the IdP for Chamicore's web UI. */
      clientId: z.string().min(1),
      /** Its secret, for a confidential client; absent for a public one (PKCE alone). */
      clientSecret: z.string().min(1).optional(),
      /** The button's text: "Log in with <name>". */
      name: z.string().min(1).max(60).optional(),
      /** Scopes asked for: they must bring `rolesClaim` into the ID token. */
      scope: z.string().min(1).default("openid profile email"),
    })
    .optional(),
});
export type TrustedIssuer = z.infer<typeof TrustedIssuerSchema>;

/** CHAMICORE_TRUSTED_ISSUERS: a JSON array of trusted issuers. */
export const TrustedIssuersJson = z
  .string()
  .transform((s, ctx) => {
    try {
      return JSON.parse(s) as unknown;
    } catch {
      ctx.addIssue({ code: "custom", message: "must be a JSON array of trusted issuers" });
      return z.NEVER;
    }
  })
  .pipe(
    z.array(TrustedIssuerSchema).superRefine((list, ctx) => {
      const seen = new Set<string>();
      for (const t of list) {
        if (seen.has(t.subjectPrefix))
          ctx.addIssue({
            code: "custom",
            message: `two issuers share subjectPrefix '${t.subjectPrefix}': give each its own, so their users stay apart`,
          });
        seen.add(t.subjectPrefix);
      }
    }),
  );

export interface AuthSettings {
  /** `iss` of issued tokens: CHAMICORE_PUBLIC_URL when set, else "chamicore". */
  issuer: string;
  /** `aud` of issued tokens and the only audience accepted. */
  audience: string;
  /** Lifetime of issued tokens, seconds (CHAMICORE_TOKEN_TTL). */
  tokenTtl: number;
  devMode: boolean;
  trustedIssuers: TrustedIssuer[];
  /** Admin service account to ensure (CHAMICORE_BOOTSTRAP_CLIENT_ID / _SECRET). */
  bootstrap: { clientId: string; clientSecret: string } | undefined;
  /** Algorithm of newly generated signing keys. */
  keyAlgorithm: "ES256" | "RS256";
  /** The AES-GCM master key (CHAMICORE_MASTER_KEY), imported once. */
  masterKey: () => Promise<SecretKey>;
  /** Counts failed client-credentials logins (CHAMICORE_LOGIN_*); one per process or isolate. */
  loginThrottle: LoginThrottle;
}

export const DEFAULT_AUDIENCE = "chamicore";
export const DEFAULT_ISSUER = "chamicore";
export const DEFAULT_TOKEN_TTL = 3600;
/** The longest CHAMICORE_TOKEN_TTL accepted (a day). */
export const MAX_TOKEN_TTL = 86_400;
/** Clock skew tolerated between this server and token issuers (seconds). */
export const CLOCK_TOLERANCE = 30;

/**
 * Seconds a subject revocation is kept: the longest any token can live,
 * whatever CHAMICORE_TOKEN_TTL was when it was issued, so a lowered TTL or
 * a differently configured instance cannot outlive it.
 */
export const SUBJECT_REVOCATION_LIFETIME = MAX_TOKEN_TTL + CLOCK_TOLERANCE;
