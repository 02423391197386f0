/**
 * Access tokens and their signing keys (functions/auth/tokens.ts, keyring.ts)
 * over in-memory stores: an issued token verifies into its principal; a
 * revoked, expired, premature, foreign, unsigned or tampered token is a 401
 * that says why; rotation keeps old tokens valid for their lifetime unless the
 * old key is dropped; the JWKS publishes public halves only, within each
 * key's window; private halves are stored sealed; and the Authorization
 * header is parsed strictly.
 */
import { decodeJwt, decodeProtectedHeader, type JWTPayload, SignJWT } from "jose";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { Keyring } from "../../functions/auth/keyring";
import { MemoryLoginThrottle } from "../../functions/auth/login-throttle";
import type { Revocation } from "../../functions/auth/schemas";
import { type AuthSettings, CLOCK_TOLERANCE } from "../../functions/auth/settings";
import type {
  AuthStores,
  KeyStore,
  RevocationStore,
  RevokedBy,
  SigningKeyRow,
  TokenIdentity,
} from "../../functions/auth/store";
import { bearerToken, issueToken, verifyToken } from "../../functions/auth/tokens";
import { generateMasterKey, importMasterKey, toBase64Url, unseal } from "../../shared/auth/crypto";
import type { Stored } from "../../shared/envelope";
import { ApiError } from "../../shared/problem";

// ---------- in-memory ports ----------

/** KeyStore with PgKeyStore's semantics (control/stores/auth/keys.ts), in memory. */
class MemoryKeyStore implements KeyStore {
  rows: SigningKeyRow[] = [];
  publishedCalls = 0;
  activations: { kid: string; previousUntil: Date; dropOlder: boolean; onlyIfNone: boolean }[] = [];

  async published(now: Date): Promise<SigningKeyRow[]> {
    this.publishedCalls++;
    return this.rows
      .map((r, i) => ({ r, i }))
      .filter(({ r }) => r.retiredAt === null || (r.publishedUntil !== null && r.publishedUntil > now))
      .sort((a, b) => b.r.createdAt.getTime() - a.r.createdAt.getTime() || b.i - a.i)
      .map(({ r }) => ({ ...r }));
  }

  async activate(
    key: SigningKeyRow,
    opts: { previousUntil: Date; dropOlder: boolean; onlyIfNone: boolean },
  ): Promise<void> {
    this.activations.push({ kid: key.kid, ...opts });
    const active = this.rows.find((r) => r.retiredAt === null);
    if (active && opts.onlyIfNone) return;
    const now = new Date();
    if (active) {
      active.retiredAt = now;
      active.publishedUntil = opts.dropOlder ? now : opts.previousUntil;
    }
    if (opts.dropOlder)
      for (const r of this.rows)
        if (r.kid !== key.kid && r.publishedUntil !== null && r.publishedUntil > now) r.publishedUntil = now;
    this.rows = this.rows.filter(
      (r) => !(r.publishedUntil !== null && r.publishedUntil.getTime() < now.getTime() - 86_400_000),
    );
    this.rows.push({ ...key, retiredAt: null, publishedUntil: null });
  }
}

class MemoryRevocationStore implements RevocationStore {
  private rows = new Map<string, Stored<Revocation>>();

  async revoke(r: { jti: string; reason: string; expiresAt: Date }): Promise<Stored<Revocation>> {
    const now = new Date();
    const old = this.rows.get(r.jti);
    const expiresAt =
      old && new Date(old.spec.expiresAt) > r.expiresAt ? new Date(old.spec.expiresAt) : r.expiresAt;
    const row: Stored<Revocation> = {
      id: r.jti,
      etag: crypto.randomUUID(),
      createdAt: old?.createdAt ?? now,
      updatedAt: now,
      spec: { jti: r.jti, reason: r.reason, expiresAt: expiresAt.toISOString() },
    };
    this.rows.set(r.jti, row);
    return row;
  }

  /** A subject revocation, as the account store writes one. */
  revokeSubject(subject: string, issuedBefore: Date, reason: string): void {
    const jti = `sub:${subject}:${issuedBefore.getTime()}`;
    this.rows.set(jti, {
      id: jti,
      etag: crypto.randomUUID(),
      createdAt: issuedBefore,
      updatedAt: issuedBefore,
      spec: {
        jti,
        reason,
        expiresAt: new Date(issuedBefore.getTime() + 86_400_000).toISOString(),
        subject,
        issuedBefore: issuedBefore.toISOString(),
      },
    });
  }

  async revokedBy(t: TokenIdentity, now: Date): Promise<RevokedBy | undefined> {
    for (const r of this.rows.values()) {
      if (new Date(r.spec.expiresAt) <= now) continue;
      if (r.spec.jti === t.jti) return { jti: r.spec.jti, reason: r.spec.reason };
      if (r.spec.subject === t.sub && new Date(r.spec.issuedBefore!) > t.issuedAt)
        return { jti: r.spec.jti, reason: r.spec.reason, subject: t.sub };
    }
    return undefined;
  }

  async active(now: Date): Promise<Stored<Revocation>[]> {
    return [...this.rows.values()].filter((r) => new Date(r.spec.expiresAt) > now);
  }

  async prune(now: Date): Promise<number> {
    let n = 0;
    for (const [jti, r] of this.rows)
      if (new Date(r.spec.expiresAt) < now) {
        this.rows.delete(jti);
        n++;
      }
    return n;
  }
}

/** A store that fails loudly if touched: issueToken/verifyToken must not need it. */
const untouchable = <T>(name: string) =>
  new Proxy(
    {},
    {
      get(_, p) {
        throw new Error(`${name}.${String(p)} is not expected to be used`);
      },
    },
  ) as T;

function memoryStores(): AuthStores & { keys: MemoryKeyStore; revocations: MemoryRevocationStore } {
  return {
    keys: new MemoryKeyStore(),
    bundleKeys: new MemoryKeyStore(),
    revocations: new MemoryRevocationStore(),
    accounts: untouchable("accounts"),
    policies: untouchable("policies"),
    credentials: untouchable("credentials"),
  };
}

function settingsWith(over: Partial<AuthSettings> = {}): AuthSettings {
  const b64 = generateMasterKey();
  let key: ReturnType<AuthSettings["masterKey"]> | undefined;
  return {
    issuer: "https://chamicore.test",
    audience: "chamicore",
    tokenTtl: 3600,
    devMode: false,
    trustedIssuers: [],
    bootstrap: undefined,
    keyAlgorithm: "ES256",
    loginThrottle: new MemoryLoginThrottle(),
    masterKey: () => (key ??= importMasterKey(b64)),
    ...over,
  };
}

const CLAIMS = { sub: "ci", roles: ["operator"], scopes: ["read:components", "read:boot"], sa: true };
const PRIVATE_JWK_MEMBERS = ["d", "p", "q", "dp", "dq", "qi", "oth", "k"];
const now = () => Math.floor(Date.now() / 1000);

/** The 401 ApiError that `f` throws, with its challenge. */
async function refusal(f: () => unknown): Promise<{ detail: string; challenge: string }> {
  try {
    await f();
  } catch (e) {
    if (!(e instanceof ApiError)) throw e;
    expect(e.status).toBe(401);
    expect(e.kind).toBe("unauthorized");
    const challenge = e.headers?.["WWW-Authenticate"] ?? "";
    expect(challenge).toMatch(/^Bearer realm="chamicore"/);
    return { detail: e.message, challenge };
  }
  throw new Error("expected a 401");
}

/** An invalid_token 401 whose detail is `detail`, also carried in error_description. */
async function expectInvalidToken(f: () => unknown, detail: string) {
  const r = await refusal(f);
  expect(r.detail).toBe(detail);
  expect(r.challenge).toContain('error="invalid_token"');
  expect(r.challenge).toContain(`error_description="${detail.replace(/"/g, "'")}"`);
}

let stores: ReturnType<typeof memoryStores>;
let settings: AuthSettings;
let keyring: Keyring;

beforeEach(() => {
  stores = memoryStores();
  settings = settingsWith();
  keyring = new Keyring(settings);
});

afterEach(() => {
  vi.useRealTimers();
});

const issue = (claims: Parameters<typeof issueToken>[3] = CLAIMS) =>
  issueToken(keyring, stores, settings, claims);
const verify = (token: string, k = keyring) => verifyToken(token, k, stores, settings);

/** A JWT signed with the keyring's active key, with standard claims unless overridden. */
async function signWithActiveKey(payload: JWTPayload, header: Record<string, unknown> = {}): Promise<string> {
  const signer = await keyring.signingKey(stores.keys);
  const t = now();
  return new SignJWT({
    iss: settings.issuer,
    aud: settings.audience,
    sub: "ci",
    jti: crypto.randomUUID(),
    iat: t,
    nbf: t,
    exp: t + 600,
    scope: "read:components",
    ...payload,
  })
    .setProtectedHeader({ alg: signer.alg, kid: signer.kid, ...header })
    .sign(signer.key);
}

const b64json = (o: unknown) => toBase64Url(new TextEncoder().encode(JSON.stringify(o)));

describe("issueToken / verifyToken", () => {
  it("issues a token that verifies into its principal", async () => {
    const issued = await issue();
    expect(issued.expiresIn).toBe(3600);
    expect(issued.scope).toBe("read:components read:boot");
    const p = await verify(issued.token);
    expect(p.sub).toBe("ci");
    expect(p.scopes).toEqual(new Set(["read:components", "read:boot"]));
    expect(p.roles).toEqual(["operator"]);
    expect(p.sa).toBe(true);
    expect(p.jti).toBe(issued.jti);
    expect(p.exp - now()).toBeGreaterThan(3590);
    expect(p.exp - now()).toBeLessThanOrEqual(3600);
  });

  it("signs with ES256 under the active kid, typ at+jwt, and the configured iss/aud/lifetime", async () => {
    const { token, jti } = await issue();
    const header = decodeProtectedHeader(token);
    const [active] = await stores.keys.published(new Date());
    expect(header).toEqual({ alg: "ES256", kid: active!.kid, typ: "at+jwt" });
    const payload = decodeJwt(token);
    expect(payload).toMatchObject({
      iss: "https://chamicore.test",
      aud: "chamicore",
      sub: "ci",
      jti,
      scope: "read:components read:boot",
      roles: ["operator"],
      sa: true,
    });
    expect(payload.nbf).toBe(payload.iat);
    expect(payload.exp).toBe(payload.iat! + 3600);
  });

  it("marks only service-account tokens with sa, and gives each token its own jti", async () => {
    const a = await issue({ sub: "alice", roles: [], scopes: [], sa: false });
    const b = await issue({ sub: "alice", roles: [], scopes: [], sa: false });
    expect(decodeJwt(a.token)).not.toHaveProperty("sa");
    expect(a.jti).not.toBe(b.jti);
    const p = await verify(a.token);
    expect(p.sa).toBe(false);
    expect(p.scopes.size).toBe(0);
    expect(p.roles).toEqual([]);
  });

  it("carries extra claims but never lets them override its own", async () => {
    const { token } = await issue({
      ...CLAIMS,
      extra: { email: "a@example.org", sub: "root", iss: "evil", scope: "admin:*", roles: "admin" },
    });
    const payload = decodeJwt(token);
    expect(payload.email).toBe("a@example.org");
    expect(payload).toMatchObject({
      sub: "ci",
      iss: "https://chamicore.test",
      scope: "read:components read:boot",
    });
    expect(payload.roles).toEqual(["operator"]);
    expect((await verify(token)).scopes.has("admin:*")).toBe(false);
  });

  it("issues and verifies without touching accounts, policies or credentials", async () => {
    // memoryStores() makes those throw on any access; reaching here is the proof.
    await verify((await issue()).token);
  });

  it("refuses a revoked jti, and only that one", async () => {
    const a = await issue();
    const b = await issue();
    await stores.revocations.revoke({
      jti: a.jti,
      reason: "leaked",
      expiresAt: new Date(Date.now() + 3_600_000),
    });
    await expectInvalidToken(() => verify(a.token), "token has been revoked");
    expect((await verify(b.token)).jti).toBe(b.jti);
  });

  it("refuses a subject's tokens issued before its subject revocation, to the millisecond", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    // All three tokens share one `iat` second; only the millisecond claim tells them apart.
    vi.setSystemTime(new Date("2030-01-01T00:00:00.100Z"));
    const before = await issue();
    const other = await issue({ ...CLAIMS, sub: "someone-else" });
    vi.setSystemTime(new Date("2030-01-01T00:00:00.500Z"));
    stores.revocations.revokeSubject("ci", new Date(), "service account 'ci' was given a new secret");
    vi.setSystemTime(new Date("2030-01-01T00:00:00.900Z"));
    const after = await issue();
    expect(decodeJwt(before.token).iat).toBe(decodeJwt(after.token).iat);
    expect(decodeJwt(after.token).iat_ms).toBe(Date.parse("2030-01-01T00:00:00.900Z"));
    await expectInvalidToken(
      () => verify(before.token),
      "token has been revoked: service account 'ci' was given a new secret",
    );
    expect((await verify(after.token)).jti).toBe(after.jti);
    expect((await verify(other.token)).sub).toBe("someone-else");
    // A token without the millisecond claim counts from the start of its second: refused.
    const reset = "token has been revoked: service account 'ci' was given a new secret";
    const legacy = await signWithActiveKey({});
    await expectInvalidToken(() => verify(legacy), reset);
    // A millisecond claim that contradicts `iat` is not believed.
    const forged = await signWithActiveKey({ iat_ms: Date.now() + 60_000 });
    await expectInvalidToken(() => verify(forged), reset);
  });

  it("uses the configured lifetime", async () => {
    settings = settingsWith({ tokenTtl: 120 });
    keyring = new Keyring(settings);
    const issued = await issue();
    expect(issued.expiresIn).toBe(120);
    const payload = decodeJwt(issued.token);
    expect(payload.exp! - payload.iat!).toBe(120);
  });

  it("stops accepting a token once it has expired, beyond the clock tolerance", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date("2030-01-01T00:00:00Z"));
    const { token } = await issue();
    vi.setSystemTime(new Date(Date.now() + (3600 + CLOCK_TOLERANCE - 1) * 1000));
    await verify(token);
    vi.setSystemTime(new Date(Date.now() + 2000));
    await expectInvalidToken(() => verify(token), "token has expired");
  });
});

describe("verifyToken refusals", () => {
  it("refuses alg none", async () => {
    await keyring.signingKey(stores.keys);
    const [active] = await stores.keys.published(new Date());
    const t = now();
    const payload = { iss: settings.issuer, aud: settings.audience, sub: "x", jti: "j", iat: t, exp: t + 60 };
    const unsigned = `${b64json({ alg: "none", kid: active!.kid })}.${b64json(payload)}.`;
    await expectInvalidToken(() => verify(unsigned), "unsigned tokens are not accepted");
  });

  it("refuses an HMAC token made with a guessable key under a real kid", async () => {
    const signer = await keyring.signingKey(stores.keys);
    const t = now();
    const forged = await new SignJWT({ scope: "admin:auth" })
      .setProtectedHeader({ alg: "HS256", kid: signer.kid })
      .setIssuer(settings.issuer)
      .setAudience(settings.audience)
      .setSubject("x")
      .setJti("j")
      .setIssuedAt(t)
      .setExpirationTime(t + 60)
      .sign(new TextEncoder().encode("a-shared-secret-anyone-could-guess"));
    await expectInvalidToken(() => verify(forged), "token signing algorithm is not accepted");
  });

  it("refuses another issuer", async () => {
    const token = await signWithActiveKey({ iss: "https://other.example" });
    await expectInvalidToken(() => verify(token), "token was issued by another issuer");
  });

  it("refuses another audience", async () => {
    const token = await signWithActiveKey({ aud: "someone-else" });
    await expectInvalidToken(() => verify(token), "token is not meant for this audience");
  });

  it("refuses a token that expired an hour ago", async () => {
    const t = now();
    const token = await signWithActiveKey({ iat: t - 7200, nbf: t - 7200, exp: t - 3600 });
    await expectInvalidToken(() => verify(token), "token has expired");
  });

  it("refuses a token not valid for another hour", async () => {
    const t = now();
    const token = await signWithActiveKey({ nbf: t + 3600, exp: t + 7200 });
    await expectInvalidToken(() => verify(token), "token is not valid yet");
  });

  it("refuses a token without a jti (it could never be revoked)", async () => {
    const token = await signWithActiveKey({ jti: undefined });
    expect(decodeJwt(token)).not.toHaveProperty("jti");
    await expectInvalidToken(() => verify(token), "token claim 'jti' is invalid");
  });

  it("refuses a tampered payload", async () => {
    const { token } = await issue();
    const [h, , s] = token.split(".");
    const payload = { ...decodeJwt(token), scope: "admin:auth read:components" };
    await expectInvalidToken(
      () => verify(`${h}.${b64json(payload)}.${s}`),
      "token signature does not verify",
    );
  });

  it("refuses a token signed by a key it does not publish", async () => {
    const foreign = new Keyring(settingsWith());
    const other = memoryStores();
    const { token } = await issueToken(foreign, other, settings, CLAIMS);
    await keyring.signingKey(stores.keys);
    await expectInvalidToken(() => verify(token), "token was signed by an unknown or removed key");
  });

  it("refuses a token whose kid names another key of the set", async () => {
    const old = await issue();
    await keyring.rotate(stores.keys, false);
    const [newest] = await stores.keys.published(new Date());
    const [, p, s] = old.token.split(".");
    const header = { ...decodeProtectedHeader(old.token), kid: newest!.kid };
    await expectInvalidToken(() => verify(`${b64json(header)}.${p}.${s}`), "token signature does not verify");
  });

  it("refuses a token without kid, and garbage", async () => {
    const signer = await keyring.signingKey(stores.keys);
    const noKid = await new SignJWT({})
      .setProtectedHeader({ alg: "ES256" })
      .setIssuer(settings.issuer)
      .setAudience(settings.audience)
      .setSubject("x")
      .setJti("j")
      .setIssuedAt()
      .setExpirationTime("5m")
      .sign(signer.key);
    await expectInvalidToken(() => verify(noKid), "token has no key id (kid)");
    await expectInvalidToken(() => verify("not-a-jwt"), "token is malformed");
    await expectInvalidToken(() => verify("a.b.c"), "token is malformed");
  });
});

describe("bearerToken", () => {
  it("returns the token of 'Bearer <token>', the scheme in any case", () => {
    expect(bearerToken("Bearer abc.DEF-_~+/=.ghi")).toBe("abc.DEF-_~+/=.ghi");
    expect(bearerToken("bearer   tok  ")).toBe("tok");
  });

  it("challenges a request without Authorization, with no error code (RFC 6750 §3.1)", async () => {
    for (const h of [undefined, ""]) {
      const r = await refusal(() => bearerToken(h));
      expect(r.challenge).toBe('Bearer realm="chamicore"');
      expect(r.detail).toContain("a bearer token is required");
    }
  });

  it.each([
    ["another scheme", "Basic x"],
    ["no token", "Bearer"],
    ["an empty token", "Bearer "],
    ["spaces inside the token", "Bearer abc def"],
    ["a missing space", "Bearerabc"],
    ["characters outside b64token", 'Bearer abc"def'],
  ])("refuses %s with invalid_token", async (_, header) => {
    await expectInvalidToken(() => bearerToken(header), "Authorization header must be 'Bearer <token>'");
  });
});

describe("Keyring", () => {
  it("makes the first signing key on first use, and keeps it", async () => {
    expect((await keyring.jwks(stores.keys)).keys).toEqual([]);
    const a = await issue();
    const b = await issue();
    expect(stores.keys.rows).toHaveLength(1);
    expect(decodeProtectedHeader(a.token).kid).toBe(decodeProtectedHeader(b.token).kid);
    expect(stores.keys.rows[0]!.kid).toMatch(/^\d{4}-\d{2}-\d{2}-[0-9a-f]+$/);
  });

  it("keeps one key when two instances start at once", async () => {
    const other = new Keyring(settings);
    const [a, b] = await Promise.all([keyring.signingKey(stores.keys), other.signingKey(stores.keys)]);
    expect(a.kid).toBe(b.kid);
    expect((await stores.keys.published(new Date())).map((r) => r.kid)).toEqual([a.kid]);
  });

  it("stores the private key sealed for its kid, never in clear", async () => {
    await issue();
    const row = stores.keys.rows[0]!;
    const priv = JSON.parse(
      await unseal(await settings.masterKey(), row.sealedPrivateJwk, `signing-key:${row.kid}`),
    ) as { d: string; kid: string };
    expect(priv.kid).toBe(row.kid);
    expect(priv.d.length).toBeGreaterThan(20);
    expect(row.sealedPrivateJwk).toMatch(/^v1\./);
    expect(row.sealedPrivateJwk).not.toContain(priv.d);
    expect(row.sealedPrivateJwk).not.toContain('"d"');
    expect(JSON.stringify(row.publicJwk)).not.toContain(priv.d);
    // Sealed for this kid: it does not open as another key's.
    await expect(
      unseal(await settings.masterKey(), row.sealedPrivateJwk, "signing-key:another"),
    ).rejects.toThrow();
  });

  it("publishes public halves only, with kid, alg and use", async () => {
    await issue();
    const { keys } = await keyring.jwks(stores.keys);
    expect(keys).toHaveLength(1);
    expect(keys[0]).toMatchObject({ kty: "EC", crv: "P-256", alg: "ES256", use: "sig" });
    for (const m of PRIVATE_JWK_MEMBERS) expect(keys[0]).not.toHaveProperty(m);
  });

  it("with RS256, signs RS256 tokens and publishes no private RSA member", async () => {
    settings = settingsWith({ keyAlgorithm: "RS256" });
    keyring = new Keyring(settings);
    const { token } = await issue();
    expect(decodeProtectedHeader(token).alg).toBe("RS256");
    expect((await verify(token)).sub).toBe("ci");
    const { keys } = await keyring.jwks(stores.keys);
    expect(keys[0]).toMatchObject({ kty: "RSA", alg: "RS256", use: "sig" });
    for (const m of PRIVATE_JWK_MEMBERS) expect(keys[0]).not.toHaveProperty(m);
  });

  it("rotates: old tokens keep verifying, new ones carry the new kid, the JWKS has both", async () => {
    const old = await issue();
    const oldKid = decodeProtectedHeader(old.token).kid;
    const before = Date.now();
    const rotated = await keyring.rotate(stores.keys, false);
    expect(rotated.kid).not.toBe(oldKid);

    // The old key stays published for a token lifetime plus the clock tolerance.
    const act = stores.keys.activations.at(-1)!;
    expect(act).toMatchObject({ kid: rotated.kid, dropOlder: false, onlyIfNone: false });
    const window = act.previousUntil.getTime() - before;
    expect(window).toBeGreaterThanOrEqual((3600 + CLOCK_TOLERANCE) * 1000);
    expect(window).toBeLessThan((3600 + CLOCK_TOLERANCE) * 1000 + 5000);

    expect((await verify(old.token)).jti).toBe(old.jti);
    const fresh = await issue();
    expect(decodeProtectedHeader(fresh.token).kid).toBe(rotated.kid);
    await verify(fresh.token);

    const { keys } = await keyring.jwks(stores.keys);
    expect(keys.map((k) => k.kid)).toEqual([rotated.kid, oldKid]);
    for (const k of keys) for (const m of PRIVATE_JWK_MEMBERS) expect(k).not.toHaveProperty(m);
  });

  it("rotates a leaked key away: its tokens stop verifying at once", async () => {
    const old = await issue();
    const rotated = await keyring.rotate(stores.keys, true);
    await expectInvalidToken(() => verify(old.token), "token was signed by an unknown or removed key");
    expect((await keyring.jwks(stores.keys)).keys.map((k) => k.kid)).toEqual([rotated.kid]);
    await verify((await issue()).token);
  });

  it("dropping a key also drops older retired keys still in their window", async () => {
    const first = await issue();
    await keyring.rotate(stores.keys, false);
    const second = await issue();
    const third = await keyring.rotate(stores.keys, true);
    for (const t of [first, second])
      await expectInvalidToken(() => verify(t.token), "token was signed by an unknown or removed key");
    expect((await keyring.jwks(stores.keys)).keys.map((k) => k.kid)).toEqual([third.kid]);
  });

  it("drops a retired key from the JWKS once its window has passed", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date("2030-01-01T00:00:00Z"));
    const old = await issue();
    const oldKid = decodeProtectedHeader(old.token).kid;
    const rotated = await keyring.rotate(stores.keys, false);

    vi.setSystemTime(new Date(Date.now() + (3600 + CLOCK_TOLERANCE - 1) * 1000));
    keyring.forget();
    expect((await keyring.jwks(stores.keys)).keys.map((k) => k.kid)).toEqual([rotated.kid, oldKid]);

    vi.setSystemTime(new Date(Date.now() + 2000));
    keyring.forget();
    expect((await keyring.jwks(stores.keys)).keys.map((k) => k.kid)).toEqual([rotated.kid]);
    await expectInvalidToken(() => verify(old.token), "token was signed by an unknown or removed key");
  });

  it("verifies at once a token signed by another instance's new key", async () => {
    const other = new Keyring(settings);
    await issue();
    // This instance has cached the key set; the other one rotates behind it.
    await verify((await issue()).token);
    await other.rotate(stores.keys, false);
    const fromOther = await issueToken(other, stores, settings, CLAIMS);
    expect((await verify(fromOther.token)).jti).toBe(fromOther.jti);
  });

  it("caches the published keys for 10 s: verifying costs no key-store read", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date("2030-01-01T00:00:00Z"));
    const { token } = await issue();
    await verify(token);
    const reads = stores.keys.publishedCalls;
    for (let i = 0; i < 5; i++) await verify(token);
    expect(stores.keys.publishedCalls).toBe(reads);
    vi.setSystemTime(new Date(Date.now() + 10_001));
    await verify(token);
    expect(stores.keys.publishedCalls).toBe(reads + 1);
  });

  it("another instance stops accepting a dropped key within the 10 s cache", async () => {
    vi.useFakeTimers({ toFake: ["Date"] });
    vi.setSystemTime(new Date("2030-01-01T00:00:00Z"));
    const other = new Keyring(settings);
    const old = await issue();
    await verify(old.token, other);
    await keyring.rotate(stores.keys, true);
    // Within the cache window the other instance still knows the old key…
    await verify(old.token, other);
    // …and after it, no longer.
    vi.setSystemTime(new Date(Date.now() + 10_001));
    await expectInvalidToken(() => verify(old.token, other), "token was signed by an unknown or removed key");
  });
});
