/**
 * The auth service's store ports. Stores hold what they are given: secrets
 * arrive already hashed or sealed (functions/auth/secrets.ts), so no store
 * ever sees a plaintext secret or the master key.
 */
import type { Stored } from "../../shared/envelope";
import type { ListQuery } from "../../shared/list-query";
import type { Page } from "../inventory/store";
import type { Credential, Policy, Revocation, Role, ServiceAccount } from "./schemas";

export interface SigningKeyRow {
  kid: string;
  alg: "ES256" | "RS256";
  /** Public JWK (with kid, alg, use). */
  publicJwk: Record<string, unknown>;
  /** Private JWK, sealed under the master key for purpose `signing-key:<kid>`. */
  sealedPrivateJwk: string;
  createdAt: Date;
  /** When it stopped signing; null for the active key. */
  retiredAt: Date | null;
  /** Removed from the JWKS after this instant (retired keys only). */
  publishedUntil: Date | null;
}

/** What a signing key signs: access tokens, or the manifests of air-gap bundles. */
export type KeyPurpose = "token" | "bundle";

export interface KeyStore {
  /** Keys still published at `now`: the active one and retired ones within their window, newest first. */
  published(now: Date): Promise<SigningKeyRow[]>;
  /**
   * Makes `key` the active key. The previous active key (if any) is retired
   * and stays published until `previousUntil`; with `dropOlder` every older
   * key leaves the JWKS at once. When `onlyIfNone` is set and an active key
   * exists, nothing changes (two first starts racing keep one key).
   */
  activate(
    key: SigningKeyRow,
    opts: { previousUntil: Date; dropOlder: boolean; onlyIfNone: boolean },
  ): Promise<void>;
}

/** A service account as stored, with its secret's hash. */
export interface AccountRecord {
  account: Stored<ServiceAccount>;
  secretHash: string;
}

export interface AccountStore {
  list(q: ListQuery): Promise<Page<ServiceAccount>>;
  get(id: string): Promise<AccountRecord | undefined>;
  count(): Promise<number>;
  /** 409 when the id exists. Role memberships are written in the same transaction. */
  create(account: ServiceAccount, secretHash: string): Promise<Stored<ServiceAccount>>;
  /**
   * Replaces fields and role memberships; `secretHash` when the secret
   * changes. 412 on etag mismatch. A new secret, or `enabled` turning false,
   * ends the account's tokens issued until then: a subject revocation (and
   * its event) written in the same transaction, kept `tokenLifetime` seconds
   * (the longest a token lives, after which none it covers is left).
   */
  update(
    account: ServiceAccount,
    ifMatch: string,
    tokenLifetime: number,
    secretHash?: string,
  ): Promise<Stored<ServiceAccount>>;
  /** Also removes the account's role memberships and ends its tokens, as `update` does, in one transaction. */
  delete(id: string, tokenLifetime: number): Promise<void>;
}

/** What a verifier knows of a token it checks against revocations. */
export interface TokenIdentity {
  jti: string;
  sub: string;
  /** When it was issued (milliseconds when the token says so). */
  issuedAt: Date;
}

/** Why a token is refused: its own jti, or its subject's tokens ended after it was issued. */
export interface RevokedBy {
  jti: string;
  reason: string;
  /** Set when a subject revocation refused it. */
  subject?: string;
}

export interface RevocationStore {
  /** Records (or extends) a revocation. */
  revoke(r: { jti: string; reason: string; expiresAt: Date }): Promise<Stored<Revocation>>;
  /**
   * The revocation in force at `now` that refuses this token (its jti, or a
   * subject revocation of its `sub` whose `issuedBefore` is after the
   * token's issue time), in one lookup; undefined when none does.
   */
  revokedBy(token: TokenIdentity, now: Date): Promise<RevokedBy | undefined>;
  /** Revocations that have not expired at `now`, oldest first. */
  active(now: Date): Promise<Stored<Revocation>[]>;
  /** Deletes revocations expired before `now`; returns how many. */
  prune(now: Date): Promise<number>;
}

export interface PolicyStore {
  listPolicies(): Promise<Stored<Policy>[]>;
  /** 409 if the same role already has this scope pattern. */
  addPolicy(p: Policy): Promise<Stored<Policy>>;
  removePolicy(id: string): Promise<void>;
  listRoles(): Promise<Role[]>;
  /** Idempotent. */
  addMember(role: string, subject: string): Promise<Role>;
  /** 404 when the subject is not a member. */
  removeMember(role: string, subject: string): Promise<void>;
  /**
   * What a subject may do: its roles (memberships plus `extraRoles`, e.g.
   * mapped from an external IdP's claims) and which of `catalog` they grant.
   */
  grants(
    subject: string,
    extraRoles: string[],
    catalog: string[],
  ): Promise<{ roles: string[]; scopes: string[] }>;
}

/** A device credential as stored: the secret sealed for purpose `credential:<id>`. */
export interface CredentialRecord {
  credential: Stored<Omit<Credential, "secret">>;
  sealedSecret: string;
}

export interface CredentialStore {
  list(q: ListQuery): Promise<Page<Omit<Credential, "secret">>>;
  get(id: string): Promise<CredentialRecord | undefined>;
  create(c: Omit<Credential, "secret">, sealedSecret: string): Promise<CredentialRecord>;
  update(c: Omit<Credential, "secret">, sealedSecret: string, ifMatch: string): Promise<CredentialRecord>;
  delete(id: string): Promise<void>;
}

export interface AuthStores {
  keys: KeyStore;
  /** The keys that sign air-gap bundles (functions/bundles/). */
  bundleKeys: KeyStore;
  accounts: AccountStore;
  revocations: RevocationStore;
  policies: PolicyStore;
  credentials: CredentialStore;
}
