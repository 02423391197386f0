/**
 * Token signing keys: generated on first use, private halves sealed under the
 * master key, rotated on demand. Each isolate (Node process or Worker
 * isolate) caches the published keys briefly, so verifying a token costs no
 * query; an unknown `kid` triggers one fresh read, so a key made by another
 * instance is usable at once.
 */
import { exportJWK, generateKeyPair, importJWK, type JWK } from "jose";
import { type SecretKey, seal, unseal } from "../../shared/auth/crypto";
import { randomHex } from "../../shared/ids";
import type { AuthSettings } from "./settings";
import { CLOCK_TOLERANCE } from "./settings";
import type { KeyStore, SigningKeyRow } from "./store";

const CACHE_MS = 10_000;
const purpose = (kid: string) => `signing-key:${kid}`;

export interface Signer {
  kid: string;
  alg: "ES256" | "RS256";
  key: SecretKey;
}

export class Keyring {
  private cached: { at: number; rows: SigningKeyRow[] } | undefined;
  private publicKeys = new Map<string, Promise<SecretKey>>();
  private signer: Signer | undefined;

  constructor(private readonly settings: AuthSettings) {}

  /** Published keys (active first), from cache unless stale or `fresh`. */
  async published(store: KeyStore, fresh = false): Promise<SigningKeyRow[]> {
    const now = Date.now();
    if (!fresh && this.cached && now - this.cached.at < CACHE_MS) return this.cached.rows;
    const rows = await store.published(new Date(now));
    this.cached = { at: now, rows };
    return rows;
  }

  /** The JWKS document: public halves only. */
  async jwks(store: KeyStore): Promise<{ keys: Record<string, unknown>[] }> {
    return { keys: (await this.published(store)).map((r) => r.publicJwk) };
  }

  /** The key that signs new tokens; made on first use. */
  async signingKey(store: KeyStore): Promise<Signer> {
    let active = (await this.published(store)).find((r) => r.retiredAt === null);
    if (!active) {
      await store.activate(await this.generate(), {
        previousUntil: new Date(),
        dropOlder: false,
        onlyIfNone: true,
      });
      active = (await this.published(store, true)).find((r) => r.retiredAt === null);
      if (!active) throw new Error("no active signing key after generating one");
    }
    if (this.signer?.kid !== active.kid) {
      const jwk = JSON.parse(
        await unseal(await this.settings.masterKey(), active.sealedPrivateJwk, purpose(active.kid)),
      ) as JWK;
      this.signer = {
        kid: active.kid,
        alg: active.alg,
        key: (await importJWK(jwk, active.alg)) as SecretKey,
      };
    }
    return this.signer;
  }

  /** The public key for `kid`, if it is still published. */
  async verificationKey(store: KeyStore, kid: string): Promise<SecretKey | undefined> {
    let row = (await this.published(store)).find((r) => r.kid === kid);
    if (!row) row = (await this.published(store, true)).find((r) => r.kid === kid);
    if (!row) return undefined;
    let key = this.publicKeys.get(kid);
    if (!key) {
      key = importJWK(row.publicJwk as JWK, row.alg) as Promise<SecretKey>;
      this.publicKeys.set(kid, key);
    }
    return key;
  }

  /**
   * A new active key. The previous one keeps verifying until every token it
   * signed has expired, unless `dropOlder` (a leaked key) removes it now.
   */
  async rotate(store: KeyStore, dropOlder: boolean): Promise<SigningKeyRow> {
    const key = await this.generate();
    const previousUntil = new Date(Date.now() + (this.settings.tokenTtl + CLOCK_TOLERANCE) * 1000);
    await store.activate(key, { previousUntil, dropOlder, onlyIfNone: false });
    this.forget();
    return key;
  }

  /** Drops the cache (after a change made here). */
  forget() {
    this.cached = undefined;
    this.publicKeys.clear();
  }

  private async generate(): Promise<SigningKeyRow> {
    const alg = this.settings.keyAlgorithm;
    const { publicKey, privateKey } = await generateKeyPair(alg, { extractable: true });
    const kid = `${new Date().toISOString().slice(0, 10)}-${randomHex(6)}`;
    const pub = { ...(await exportJWK(publicKey)), kid, alg, use: "sig" };
    const priv = { ...(await exportJWK(privateKey)), kid, alg };
    return {
      kid,
      alg,
      publicJwk: pub,
      sealedPrivateJwk: await seal(await this.settings.masterKey(), JSON.stringify(priv), purpose(kid)),
      createdAt: new Date(),
      retiredAt: null,
      publishedUntil: null,
    };
  }
}
