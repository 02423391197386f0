/**
 * The client-credentials grant's pure parts (functions/auth/grants.ts): how
 * client credentials are read from HTTP Basic (RFC 6749 §2.3.1, form-urlencoded
 * before base64) or the body, which refusals become which OAuth error, how a
 * requested `scope` narrows what is allowed, and the grant itself against
 * stub stores (secret check, disabled accounts, caps).
 */
import { describe, expect, it } from "vitest";
import { clientCredentials, clientCredentialsGrant, narrow, OAuthError } from "../../functions/auth/grants";
import type { TokenRequest } from "../../functions/auth/schemas";
import type { AuthSettings } from "../../functions/auth/settings";
import type { AccountRecord, AuthStores } from "../../functions/auth/store";
import { hashSecret } from "../../shared/auth/crypto";

const body = (extra: Partial<TokenRequest> = {}): TokenRequest => ({
  grant_type: "client_credentials",
  ...extra,
});

/** RFC 6749 §2.3.1: form-urlencode id and secret, join with ':', base64 (of the UTF-8 bytes). */
const formEncode = (s: string) => encodeURIComponent(s).replace(/%20/g, "+");
const basic = (id: string, secret: string) => `Basic ${btoa(`${formEncode(id)}:${formEncode(secret)}`)}`;

/** The OAuthError that `f` throws. */
async function oauthError(f: () => unknown): Promise<OAuthError> {
  try {
    await f();
  } catch (e) {
    if (e instanceof OAuthError) return e;
    throw e;
  }
  throw new Error("expected an OAuthError");
}

describe("clientCredentials: HTTP Basic", () => {
  it("reads a plain id and secret", () => {
    expect(clientCredentials(basic("ci", "s3cret"), body())).toEqual({
      id: "ci",
      secret: "s3cret",
      basic: true,
    });
  });

  it("form-decodes both parts: '+' is a space, %3A a colon, %25 a percent sign", () => {
    const header = `Basic ${btoa("my+client%3Aone:p%3Ass+word%25%2B")}`;
    expect(clientCredentials(header, body())).toEqual({
      id: "my client:one",
      secret: "p:ss word%+",
      basic: true,
    });
  });

  it("round-trips ids and secrets with reserved and non-ASCII characters", () => {
    const id = "client id:ü/+&=";
    const secret = "a:b c+d%e&f=g✓";
    expect(clientCredentials(basic(id, secret), body())).toMatchObject({ id, secret });
  });

  it("splits at the first colon, so an unencoded colon stays in the secret", () => {
    const header = `Basic ${btoa("ci:pa:ss:word")}`;
    expect(clientCredentials(header, body())).toMatchObject({ id: "ci", secret: "pa:ss:word" });
  });

  it("accepts the scheme in any case and trailing whitespace", () => {
    const b64 = btoa("ci:s");
    expect(clientCredentials(`basic ${b64}`, body())).toMatchObject({ id: "ci", secret: "s" });
    expect(clientCredentials(`BASIC   ${b64}  `, body())).toMatchObject({ id: "ci", secret: "s" });
  });

  it("prefers Basic over body credentials", () => {
    const got = clientCredentials(basic("from-header", "h"), body({ client_id: "b", client_secret: "b" }));
    expect(got).toEqual({ id: "from-header", secret: "h", basic: true });
  });

  it.each([
    ["malformed base64", "Basic a"],
    ["padding only", "Basic ===="],
    ["no colon", `Basic ${btoa("justanid")}`],
  ])("refuses %s with invalid_client 401", async (_, header) => {
    const e = await oauthError(() => clientCredentials(header, body()));
    expect(e.code).toBe("invalid_client");
    expect(e.status).toBe(401);
    expect(e.message).toBe("malformed HTTP Basic credentials");
  });

  it("refuses a malformed percent escape with invalid_client 401", async () => {
    const e = await oauthError(() => clientCredentials(`Basic ${btoa("ci:100%zz")}`, body()));
    expect(e.code).toBe("invalid_client");
  });
});

describe("clientCredentials: body", () => {
  it("reads client_id and client_secret, taken literally", () => {
    expect(clientCredentials(undefined, body({ client_id: "ci+1", client_secret: "a%3Ab" }))).toEqual({
      id: "ci+1",
      secret: "a%3Ab",
      basic: false,
    });
  });

  it("is undefined when no credentials are sent, or the header is another scheme", () => {
    expect(clientCredentials(undefined, body())).toBeUndefined();
    expect(clientCredentials("Bearer abc.def.ghi", body())).toBeUndefined();
  });

  it.each([
    ["client_id without a secret", { client_id: "ci" }],
    ["a secret without client_id", { client_secret: "s" }],
    ["an empty secret", { client_id: "ci", client_secret: "" }],
    ["an empty client_id", { client_id: "", client_secret: "s" }],
  ])("refuses %s with invalid_request 400", async (_, extra) => {
    const e = await oauthError(() => clientCredentials(undefined, body(extra)));
    expect(e.code).toBe("invalid_request");
    expect(e.status).toBe(400);
    expect(e.message).toContain("client_id and client_secret");
  });
});

describe("narrow", () => {
  const allowed = ["read:components", "write:components", "read:boot"];

  it("gives everything allowed when no scope, or a blank one, is requested", () => {
    expect(narrow(allowed, undefined)).toEqual(allowed);
    expect(narrow(allowed, "")).toEqual(allowed);
    expect(narrow(allowed, "   ")).toEqual(allowed);
  });

  it("gives the requested subset, ignoring repeated spaces and duplicates", () => {
    expect(narrow(allowed, "read:boot")).toEqual(["read:boot"]);
    expect(narrow(allowed, "  read:boot   read:components read:boot ")).toEqual([
      "read:components",
      "read:boot",
    ]);
  });

  it("refuses a scope not allowed with invalid_scope naming only the refused ones", async () => {
    const e = await oauthError(() => narrow(allowed, "read:boot admin:auth delete:components"));
    expect(e.code).toBe("invalid_scope");
    expect(e.status).toBe(400);
    expect(e.message).toBe("not allowed: admin:auth delete:components");
  });

  it("matches requested scopes exactly, not as globs", async () => {
    const e = await oauthError(() => narrow(allowed, "read:*"));
    expect(e.message).toBe("not allowed: read:*");
  });
});

describe("clientCredentialsGrant (stub stores)", () => {
  const unused = () => {
    throw new Error("not used by the grant");
  };
  const settings = { devMode: false } as AuthSettings;
  const granted = ["read:components", "write:components", "read:boot"];

  async function storesWith(
    spec: { id: string; enabled: boolean; scopes: string[] | null },
    secret: string,
  ): Promise<AuthStores> {
    const record: AccountRecord = {
      account: {
        id: spec.id,
        etag: "e",
        createdAt: new Date(),
        updatedAt: new Date(),
        spec: { ...spec, description: "", roles: ["operator"] },
      },
      secretHash: await hashSecret(secret, 1000),
    };
    return {
      accounts: { get: async (id: string) => (id === spec.id ? record : undefined) },
      policies: { grants: async () => ({ roles: ["operator"], scopes: granted }) },
      keys: { published: unused, activate: unused },
      revocations: {},
      credentials: {},
    } as unknown as AuthStores;
  }

  it("grants the role scopes, capped by the account's patterns and narrowed by the request", async () => {
    const stores = await storesWith({ id: "ci", enabled: true, scopes: ["read:*"] }, "s3cret");
    const client = { id: "ci", secret: "s3cret", basic: true };
    const before = Date.now();
    const grant = await clientCredentialsGrant(stores, settings, client, body());
    expect(grant).toEqual({
      sub: "ci",
      roles: ["operator"],
      scopes: ["read:components", "read:boot"],
      sa: true,
      issuedAt: expect.any(Number),
    });
    // The issue time is when the account was read, before the secret was checked.
    expect(grant.issuedAt).toBeGreaterThanOrEqual(before);
    expect(grant.issuedAt).toBeLessThanOrEqual(Date.now());
    const narrowed = await clientCredentialsGrant(stores, settings, client, body({ scope: "read:boot" }));
    expect(narrowed.scopes).toEqual(["read:boot"]);
    // What the cap removes is refused, even though the role grants it.
    const e = await oauthError(() =>
      clientCredentialsGrant(stores, settings, client, body({ scope: "write:components" })),
    );
    expect(e.code).toBe("invalid_scope");
    expect(e.message).toBe("not allowed: write:components");
  });

  it("refuses a wrong secret and an unknown client alike, invalid_client 401", async () => {
    const stores = await storesWith({ id: "ci", enabled: true, scopes: null }, "s3cret");
    for (const client of [
      { id: "ci", secret: "wrong", basic: false },
      { id: "nobody", secret: "s3cret", basic: false },
    ]) {
      const e = await oauthError(() => clientCredentialsGrant(stores, settings, client, body()));
      expect(e.code).toBe("invalid_client");
      expect(e.status).toBe(401);
      expect(e.message).toBe("unknown client or wrong secret");
    }
  });

  it("refuses a disabled account by name", async () => {
    const stores = await storesWith({ id: "ci", enabled: false, scopes: null }, "s");
    const e = await oauthError(() =>
      clientCredentialsGrant(stores, settings, { id: "ci", secret: "s", basic: true }, body()),
    );
    expect(e.code).toBe("invalid_client");
    expect(e.status).toBe(401);
    expect(e.message).toContain("'ci' is disabled");
  });

  it("refuses an account whose cap leaves nothing with invalid_scope", async () => {
    const stores = await storesWith({ id: "ci", enabled: true, scopes: ["admin:*"] }, "s");
    const e = await oauthError(() =>
      clientCredentialsGrant(stores, settings, { id: "ci", secret: "s", basic: true }, body()),
    );
    expect(e.code).toBe("invalid_scope");
    expect(e.message).toContain("has no scopes");
  });

  it("requires client authentication outside dev mode", async () => {
    const stores = await storesWith({ id: "ci", enabled: true, scopes: null }, "s");
    const e = await oauthError(() => clientCredentialsGrant(stores, settings, undefined, body()));
    expect(e.code).toBe("invalid_client");
    expect(e.status).toBe(401);
    expect(e.message).toContain("client authentication is required");
  });
});
