/**
 * RFC 8693 token exchange against independent identity providers on loopback,
 * on the Node server and on the Worker bundle in workerd (both over Postgres).
 *
 * A trusted IdP (its own RSA key, issuer string and JWKS over HTTP on
 * 127.0.0.1) is named in CHAMICORE_TRUSTED_ISSUERS; a second, untrusted IdP
 * (another key, issuer and JWKS) is not. The file proves that the trusted
 * IdP's JWTs are exchanged for Chamicore tokens whose roles come from its
 * groups (or from role memberships of the prefixed subject) and that those
 * tokens work, narrowed by `scope`; and that untrusted, forged, unsigned,
 * expired, mis-addressed and malformed subject tokens are refused with
 * RFC 6749 error bodies, never problem+json.
 */
import {
  createLocalJWKSet,
  decodeJwt,
  decodeProtectedHeader,
  type JSONWebKeySet,
  jwtVerify,
  SignJWT,
} from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Idp, type PrivateKey, startIdp } from "../support/idp";
import { type Answer, nodePostgresTarget, type Target, workerTarget } from "../support/targets";

const TOKEN = "/auth/v1/token";
const C = "/hsm/v2/State/Components";
const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const JWT_TYPE = "urn:ietf:params:oauth:token-type:jwt";
const ACCESS_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:access_token";
const AUDIENCE = "chamicore-test";
const PREFIX = "idp:";

let trusted: Idp;
let rogue: Idp;
const targets: Partial<Record<"node" | "worker", Target>> = {};

/** A JWT as an IdP would issue it: by default from the trusted IdP, for Chamicore, valid five minutes. */
async function idpToken(
  claims: Record<string, unknown>,
  signer: { key: PrivateKey; kid: string } = { key: trusted.privateKey, kid: trusted.kid },
): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({
    iss: trusted.issuer,
    aud: AUDIENCE,
    iat: now,
    exp: now + 300,
    name: "Ada Lovelace",
    email: "ada@example.org",
    ...claims,
  })
    .setProtectedHeader({ alg: "RS256", kid: signer.kid, typ: "JWT" })
    .sign(signer.key);
}

const b64url = (o: unknown) => Buffer.from(JSON.stringify(o)).toString("base64url");

/** The token request an OAuth client sends: form-encoded, no Authorization header. */
function exchange(t: Target, params: Record<string, string | undefined>): Promise<Answer> {
  const form = new URLSearchParams();
  for (const [k, v] of Object.entries({
    grant_type: TOKEN_EXCHANGE,
    subject_token_type: JWT_TYPE,
    ...params,
  }))
    if (v !== undefined) form.set(k, v);
  return t.call("POST", TOKEN, {
    body: form.toString(),
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    token: null,
  });
}

/** An RFC 6749 §5.2 error: 400, plain JSON `{error, error_description}`, not cached. */
function expectOAuthError(a: Answer, error: string, description: RegExp) {
  expect(a.status, a.text).toBe(400);
  expect(a.headers.get("content-type")).toMatch(/^application\/json/);
  expect(a.headers.get("cache-control")).toBe("no-store");
  expect(a.json).toEqual({ error, error_description: expect.stringMatching(description) });
}

beforeAll(async () => {
  [trusted, rogue] = await Promise.all([startIdp("idp"), startIdp("rogue")]);
  const env = {
    CHAMICORE_TRUSTED_ISSUERS: JSON.stringify([
      {
        issuer: trusted.issuer,
        jwksUri: trusted.jwksUri,
        audience: AUDIENCE,
        roleMap: { "hpc-admins": ["admin"], "hpc-users": ["viewer"] },
        subjectPrefix: PREFIX,
      },
    ]),
  };
  const [node, worker] = await Promise.allSettled([nodePostgresTarget(env), workerTarget(env)]);
  if (node.status === "fulfilled") targets.node = node.value;
  if (worker.status === "fulfilled") targets.worker = worker.value;
  for (const r of [node, worker]) if (r.status === "rejected") throw r.reason;
});

afterAll(async () => {
  await Promise.allSettled([targets.node?.stop(), targets.worker?.stop(), trusted?.close(), rogue?.close()]);
});

describe.each(["node", "worker"] as const)("token exchange on %s", (which) => {
  const t = () => targets[which]!;

  it("exchanges a trusted IdP's token (hpc-users) for a working viewer token", async () => {
    const fetchesBefore = trusted.jwksFetches;
    const a = await exchange(t(), { subject_token: await idpToken({ sub: "ada", groups: ["hpc-users"] }) });
    expect(a.status, a.text).toBe(200);
    // Chamicore fetched the trusted IdP's JWKS over loopback (from workerd too).
    expect(trusted.jwksFetches).toBeGreaterThan(fetchesBefore);
    expect(a.headers.get("cache-control")).toBe("no-store");
    expect(a.json).toEqual({
      access_token: expect.any(String),
      token_type: "Bearer",
      expires_in: expect.any(Number),
      scope: expect.any(String),
      issued_token_type: ACCESS_TOKEN_TYPE,
    });

    const header = decodeProtectedHeader(a.json.access_token);
    expect(header.kid).toEqual(expect.any(String));
    const claims = decodeJwt(a.json.access_token);
    expect(claims).toMatchObject({
      iss: "chamicore",
      aud: "chamicore",
      sub: `${PREFIX}ada`,
      roles: ["viewer"],
      scope: a.json.scope,
      idp: trusted.issuer,
      name: "Ada Lovelace",
      email: "ada@example.org",
    });
    expect(claims.jti).toEqual(expect.any(String));
    expect(claims.exp! - claims.iat!).toBe(a.json.expires_in);
    const scopes = a.json.scope.split(" ");
    expect(scopes).toContain("read:components");
    expect(scopes).toContain("read:metrics");
    expect(scopes).not.toContain("write:components");

    // It verifies against Chamicore's own published keys, not the IdP's.
    const jwks = await t().call("GET", "/.well-known/jwks.json", { token: null });
    expect(jwks.status).toBe(200);
    expect((jwks.json as JSONWebKeySet).keys.map((k) => k.kid)).toContain(header.kid);
    await expect(
      jwtVerify(a.json.access_token, createLocalJWKSet(jwks.json), {
        issuer: "chamicore",
        audience: "chamicore",
      }),
    ).resolves.toBeTruthy();

    const token = a.json.access_token as string;
    expect((await t().call("GET", C, { token })).status).toBe(200);
    const write = await t().call("POST", C, { token, body: { id: "x1000c0s0b0n0" } });
    expect(write.status, write.text).toBe(403);
    expect(write.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  });

  it("maps hpc-admins to admin, and accepts a JSON body", async () => {
    const a = await t().call("POST", TOKEN, {
      body: {
        grant_type: TOKEN_EXCHANGE,
        subject_token_type: JWT_TYPE,
        subject_token: await idpToken({ sub: "grace", groups: ["hpc-admins"] }),
      },
      token: null,
    });
    expect(a.status, a.text).toBe(200);
    expect(a.json.scope.split(" ")).toEqual(expect.arrayContaining(["admin:auth", "write:components"]));
    expect(decodeJwt(a.json.access_token)).toMatchObject({ sub: `${PREFIX}grace`, roles: ["admin"] });
    expect((await t().call("GET", "/auth/v1/roles", { token: a.json.access_token })).status).toBe(200);
  });

  it("refuses a token from an untrusted issuer, without fetching that issuer's keys", async () => {
    const subject_token = await idpToken(
      { iss: rogue.issuer, sub: "mallory", groups: ["hpc-admins"] },
      { key: rogue.privateKey, kid: rogue.kid },
    );
    expectOAuthError(
      await exchange(t(), { subject_token }),
      "invalid_request",
      new RegExp(`issuer '${rogue.issuer}' is not trusted`),
    );
    expect(rogue.jwksFetches).toBe(0);
  });

  it("refuses a token claiming the trusted issuer but signed by another key", async () => {
    const claims = { sub: "mallory", groups: ["hpc-admins"] };
    // A kid the trusted JWKS does not publish.
    const unknownKid = await idpToken(claims, { key: rogue.privateKey, kid: rogue.kid });
    expectOAuthError(
      await exchange(t(), { subject_token: unknownKid }),
      "invalid_request",
      /does not publish/,
    );
    // The trusted key's own kid, with the wrong key behind it.
    const sameKid = await idpToken(claims, { key: rogue.privateKey, kid: trusted.kid });
    expectOAuthError(await exchange(t(), { subject_token: sameKid }), "invalid_request", /signature/);
    // No signature at all.
    const now = Math.floor(Date.now() / 1000);
    const payload = { ...claims, iss: trusted.issuer, aud: AUDIENCE, iat: now, exp: now + 300 };
    const unsigned = `${b64url({ alg: "none", typ: "JWT" })}.${b64url(payload)}.`;
    expectOAuthError(await exchange(t(), { subject_token: unsigned }), "invalid_request", /not valid/);
  });

  it("refuses a token for another audience, or expired", async () => {
    const wrongAud = await idpToken({ sub: "ada", groups: ["hpc-users"], aud: "someone-else" });
    expectOAuthError(await exchange(t(), { subject_token: wrongAud }), "invalid_request", /'aud'/);
    const now = Math.floor(Date.now() / 1000);
    const expired = await idpToken({ sub: "ada", groups: ["hpc-users"], iat: now - 7200, exp: now - 3600 });
    expectOAuthError(await exchange(t(), { subject_token: expired }), "invalid_request", /expired/);
  });

  it("refuses malformed requests with the right error codes", async () => {
    const good = await idpToken({ sub: "ada", groups: ["hpc-users"] });
    expectOAuthError(await exchange(t(), {}), "invalid_request", /subject_token is required/);
    expectOAuthError(
      await exchange(t(), { subject_token: good, subject_token_type: "urn:example:saml" }),
      "invalid_request",
      /subject_token_type/,
    );
    expectOAuthError(
      await exchange(t(), { subject_token: good, subject_token_type: undefined }),
      "invalid_request",
      /subject_token_type/,
    );
    expectOAuthError(
      await exchange(t(), { subject_token: good, requested_token_type: "urn:example:other" }),
      "invalid_request",
      /requested_token_type/,
    );
    expectOAuthError(
      await exchange(t(), { subject_token: "not-a-jwt" }),
      "invalid_request",
      /subject_token is not a JWT/,
    );
    expectOAuthError(
      await exchange(t(), { grant_type: "password", subject_token: good }),
      "unsupported_grant_type",
      /grant_type/,
    );
  });

  it("refuses a user with no role, until its subject is made a member of one", async () => {
    const subject_token = await idpToken({ sub: "lin", groups: ["physics"] });
    expectOAuthError(
      await exchange(t(), { subject_token }),
      "invalid_request",
      new RegExp(`'${PREFIX}lin' holds no Chamicore role`),
    );
    const added = await t().call("POST", "/auth/v1/roles/viewer/members", {
      body: { subject: `${PREFIX}lin` },
    });
    expect(added.status, added.text).toBe(200);
    const a = await exchange(t(), { subject_token });
    expect(a.status, a.text).toBe(200);
    expect(decodeJwt(a.json.access_token)).toMatchObject({ sub: `${PREFIX}lin`, roles: ["viewer"] });
    expect(a.json.scope.split(" ")).toContain("read:components");
    expect((await t().call("GET", C, { token: a.json.access_token })).status).toBe(200);
  });

  it("never takes an IdP user for a role or a service account of the same name", async () => {
    // Subjects are prefixed with a string ending in ':', which role names and account ids cannot contain.
    for (const sub of ["admin", "test-admin", "operator"]) {
      const subject_token = await idpToken({ sub, groups: [] });
      expectOAuthError(
        await exchange(t(), { subject_token }),
        "invalid_request",
        new RegExp(`'${PREFIX}${sub}' holds no Chamicore role`),
      );
    }
  });

  it("narrows to the requested scope, and refuses scopes the user does not have", async () => {
    const subject_token = await idpToken({ sub: "ada", groups: ["hpc-users"] });
    const a = await exchange(t(), { subject_token, scope: "read:components" });
    expect(a.status, a.text).toBe(200);
    expect(a.json.scope).toBe("read:components");
    expect(decodeJwt(a.json.access_token).scope).toBe("read:components");
    expect((await t().call("GET", "/metrics", { token: a.json.access_token })).status).toBe(403);
    expectOAuthError(
      await exchange(t(), { subject_token, scope: "write:components" }),
      "invalid_scope",
      /write:components/,
    );
    expectOAuthError(
      await exchange(t(), { subject_token, scope: "read:components write:components" }),
      "invalid_scope",
      /write:components/,
    );
  });
});
