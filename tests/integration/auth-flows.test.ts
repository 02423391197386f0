/**
 * What an administrator does with auth, end to end over HTTP, on Node
 * (embedded database) and on the Worker in workerd: service accounts and
 * their secrets, roles and policies deciding token scopes, revocation taking
 * effect on the next request, device credentials sealed and redacted, key
 * rotation, and OAuth-shaped errors from the token endpoint.
 */
import { decodeJwt, decodeProtectedHeader } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Call, nodePgliteTarget, type Target, tokenFor, workerTarget } from "../support/targets";

const form = (fields: Record<string, string>, headers: Record<string, string> = {}) => ({
  body: new URLSearchParams(fields).toString(),
  headers: { "Content-Type": "application/x-www-form-urlencoded", ...headers },
  token: null,
});
const basic = (id: string, secret: string) => ({ Authorization: `Basic ${btoa(`${id}:${secret}`)}` });
const scopesOf = (token: string) => String(decodeJwt(token).scope).split(" ");

async function createAccount(call: Call, body: Record<string, unknown>) {
  const res = await call("POST", "/auth/v1/service-accounts", { body });
  expect(res.status, res.text).toBe(201);
  return { id: res.json.spec.id as string, secret: res.json.spec.clientSecret as string, res };
}

for (const [name, start] of [
  ["node+pglite", nodePgliteTarget],
  ["workerd+postgres", workerTarget],
] as const) {
  describe.sequential(`auth flows on ${name}`, () => {
    let t: Target;
    beforeAll(async () => {
      t = await start();
    });
    afterAll(async () => {
      await t?.stop();
    });

    it("creates a service account whose secret is shown once and never again", async () => {
      const { id, secret, res } = await createAccount(t.call, {
        id: "ci-pipeline",
        description: "CI",
        roles: ["viewer"],
      });
      expect(res.headers.get("location")).toBe("/auth/v1/service-accounts/ci-pipeline");
      expect(secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
      const one = await t.call("GET", `/auth/v1/service-accounts/${id}`);
      expect(one.status).toBe(200);
      expect(one.json.spec).toEqual({
        id,
        description: "CI",
        roles: ["viewer"],
        scopes: null,
        enabled: true,
      });
      const list = await t.call("GET", "/auth/v1/service-accounts?role=viewer");
      expect(list.json.items.map((i: { spec: { id: string } }) => i.spec.id)).toEqual([id]);
      for (const text of [one.text, list.text]) {
        expect(text).not.toContain(secret);
        expect(text).not.toMatch(/pbkdf2|secretHash|clientSecret/);
      }
      const dup = await t.call("POST", "/auth/v1/service-accounts", { body: { id } });
      expect(dup.status).toBe(409);
    });

    it("issues tokens by HTTP Basic, by form body and by JSON body, scoped by the account's roles", async () => {
      const { id, secret } = await createAccount(t.call, { roles: ["viewer"] });
      expect(id).toMatch(/^sa-[0-9a-f]{8}$/);
      const byBasic = await t.call(
        "POST",
        "/auth/v1/token",
        form({ grant_type: "client_credentials" }, basic(id, secret)),
      );
      expect(byBasic.status, byBasic.text).toBe(200);
      expect(byBasic.headers.get("cache-control")).toBe("no-store");
      expect(byBasic.json).toMatchObject({ token_type: "Bearer", expires_in: 3600 });
      const byForm = await t.call(
        "POST",
        "/auth/v1/token",
        form({ grant_type: "client_credentials", client_id: id, client_secret: secret }),
      );
      expect(byForm.status).toBe(200);
      const byJson = await t.call("POST", "/auth/v1/token", {
        body: { grant_type: "client_credentials", client_id: id, client_secret: secret },
        token: null,
      });
      expect(byJson.status).toBe(200);

      const token = byBasic.json.access_token as string;
      const claims = decodeJwt(token);
      expect(decodeProtectedHeader(token)).toMatchObject({ alg: "ES256", typ: "at+jwt" });
      expect(decodeProtectedHeader(token).kid).toBeTruthy();
      expect(claims).toMatchObject({
        iss: "chamicore",
        aud: "chamicore",
        sub: id,
        roles: ["viewer"],
        sa: true,
      });
      for (const k of ["exp", "iat", "nbf", "jti"]) expect(claims).toHaveProperty(k);
      expect(byBasic.json.scope).toBe(claims.scope);
      expect(scopesOf(token)).toEqual(expect.arrayContaining(["read:components", "read:metrics"]));
      expect(scopesOf(token)).not.toContain("write:components");

      expect((await t.call("GET", "/hsm/v2/State/Components", { token })).status).toBe(200);
      const denied = await t.call("POST", "/hsm/v2/State/Components", {
        token,
        body: { id: "x1000c0s0b0n0" },
      });
      expect(denied.status).toBe(403);
      expect(denied.json.detail).toContain("write:components");
    });

    it("answers token errors the OAuth way", async () => {
      const { id, secret } = await createAccount(t.call, { roles: ["viewer"] });
      const wrong = await t.call(
        "POST",
        "/auth/v1/token",
        form({ grant_type: "client_credentials" }, basic(id, `${secret}x`)),
      );
      expect(wrong.status).toBe(401);
      expect(wrong.json).toEqual({
        error: "invalid_client",
        error_description: "unknown client or wrong secret",
      });
      expect(wrong.headers.get("www-authenticate")).toMatch(/^Basic/);
      const unknown = await t.call(
        "POST",
        "/auth/v1/token",
        form({ grant_type: "client_credentials" }, basic("nobody", secret)),
      );
      expect(unknown.json.error_description).toBe(wrong.json.error_description);
      const noClient = await t.call("POST", "/auth/v1/token", form({ grant_type: "client_credentials" }));
      expect(noClient.status).toBe(401);
      expect(noClient.json.error).toBe("invalid_client");
      const grant = await t.call(
        "POST",
        "/auth/v1/token",
        form({ grant_type: "password" }, basic(id, secret)),
      );
      expect(grant.status).toBe(400);
      expect(grant.json.error).toBe("unsupported_grant_type");
      const missing = await t.call("POST", "/auth/v1/token", form({}));
      expect(missing.status).toBe(400);
      expect(missing.json.error).toBe("invalid_request");
      const scope = await t.call(
        "POST",
        "/auth/v1/token",
        form(
          { grant_type: "client_credentials", scope: "read:components write:components" },
          basic(id, secret),
        ),
      );
      expect(scope.status).toBe(400);
      expect(scope.json).toEqual({
        error: "invalid_scope",
        error_description: "not allowed: write:components",
      });
      const narrowed = await tokenFor(t.call, id, secret, "read:components");
      expect(scopesOf(narrowed)).toEqual(["read:components"]);
      const text = await t.call("POST", "/auth/v1/token", {
        body: "grant_type=client_credentials",
        headers: { "Content-Type": "text/plain" },
        token: null,
      });
      expect(text.status).toBe(415);
    });

    it("caps an account's scopes, and disabling or deleting it stops its tokens being issued", async () => {
      const { id, secret } = await createAccount(t.call, { roles: ["admin"], scopes: ["read:*"] });
      const scopes = scopesOf(await tokenFor(t.call, id, secret));
      expect(scopes.length).toBeGreaterThan(3);
      expect(scopes.every((s) => s.startsWith("read:"))).toBe(true);

      const off = await t.call("PATCH", `/auth/v1/service-accounts/${id}`, { body: { enabled: false } });
      expect(off.status, off.text).toBe(200);
      const refused = await t.call(
        "POST",
        "/auth/v1/token",
        form({ grant_type: "client_credentials" }, basic(id, secret)),
      );
      expect(refused.status).toBe(401);
      expect(refused.json.error_description).toContain("disabled");

      await t.call("PATCH", `/auth/v1/service-accounts/${id}`, {
        body: { enabled: true, scopes: null, roles: ["operator"] },
      });
      const operator = scopesOf(await tokenFor(t.call, id, secret));
      expect(operator).toContain("write:components");
      expect(operator).not.toContain("admin:auth");

      const reset = await t.call("POST", `/auth/v1/service-accounts/${id}/secret`);
      expect(reset.status).toBe(200);
      const fresh = reset.json.spec.clientSecret as string;
      expect(fresh).not.toBe(secret);
      expect(
        (
          await t.call(
            "POST",
            "/auth/v1/token",
            form({ grant_type: "client_credentials" }, basic(id, secret)),
          )
        ).status,
      ).toBe(401);
      await tokenFor(t.call, id, fresh);

      expect((await t.call("DELETE", `/auth/v1/service-accounts/${id}`)).status).toBe(204);
      expect(
        (await t.call("POST", "/auth/v1/token", form({ grant_type: "client_credentials" }, basic(id, fresh))))
          .status,
      ).toBe(401);
      expect((await t.call("GET", `/auth/v1/service-accounts/${id}`)).status).toBe(404);
    });

    it("computes token scopes from role policies and memberships at issuance", async () => {
      const roles = await t.call("GET", "/auth/v1/roles");
      expect(roles.status).toBe(200);
      const names = roles.json.items.map((r: { name: string }) => r.name);
      expect(names).toEqual(expect.arrayContaining(["admin", "operator", "viewer"]));
      const admin = roles.json.items.find((r: { name: string }) => r.name === "admin");
      expect(admin.scopes).toEqual(["*"]);
      expect(admin.members).toContain("test-admin");

      const { id, secret } = await createAccount(t.call, { roles: [] });
      const none = await t.call(
        "POST",
        "/auth/v1/token",
        form({ grant_type: "client_credentials" }, basic(id, secret)),
      );
      expect(none.status).toBe(400);
      expect(none.json.error).toBe("invalid_scope");

      const created = await t.call("POST", "/auth/v1/policies", {
        body: { role: "auditors", scope: "read:groups" },
      });
      expect(created.status, created.text).toBe(201);
      expect(
        (await t.call("POST", "/auth/v1/policies", { body: { role: "auditors", scope: "read:groups" } }))
          .status,
      ).toBe(409);
      const bad = await t.call("POST", "/auth/v1/policies", {
        body: { role: "Auditors!", scope: "rule:everything" },
      });
      expect(bad.status).toBe(422);
      expect(bad.json.errors.map((e: { field: string }) => e.field).sort()).toEqual(["role", "scope"]);

      const member = await t.call("POST", "/auth/v1/roles/auditors/members", { body: { subject: id } });
      expect(member.status).toBe(200);
      expect(member.json).toEqual({ name: "auditors", scopes: ["read:groups"], members: [id] });
      expect(scopesOf(await tokenFor(t.call, id, secret))).toEqual(["read:groups"]);
      // The account shows the role it was given through the membership endpoint.
      expect((await t.call("GET", `/auth/v1/service-accounts/${id}`)).json.spec.roles).toEqual(["auditors"]);

      const policies = await t.call("GET", "/auth/v1/policies");
      const policy = policies.json.items.find((p: { spec: { role: string } }) => p.spec.role === "auditors");
      expect((await t.call("DELETE", `/auth/v1/policies/${policy.metadata.id}`)).status).toBe(204);
      expect((await t.call("DELETE", `/auth/v1/policies/${policy.metadata.id}`)).status).toBe(404);
      expect(
        (
          await t.call(
            "POST",
            "/auth/v1/token",
            form({ grant_type: "client_credentials" }, basic(id, secret)),
          )
        ).status,
      ).toBe(400);

      expect((await t.call("DELETE", `/auth/v1/roles/auditors/members/${id}`)).status).toBe(204);
      expect((await t.call("DELETE", `/auth/v1/roles/auditors/members/${id}`)).status).toBe(404);
    });

    it("refuses a revoked token on the very next request, and lists active revocations with an ETag", async () => {
      const { id, secret } = await createAccount(t.call, { roles: ["viewer"] });
      const token = await tokenFor(t.call, id, secret);
      expect((await t.call("GET", "/hsm/v2/State/Components", { token })).status).toBe(200);
      // A viewer cannot revoke.
      const jti = String(decodeJwt(token).jti);
      expect((await t.call("POST", "/auth/v1/token/revoke", { token, body: { jti } })).status).toBe(403);

      const before = await t.call("GET", "/auth/v1/revocations?active=true");
      expect(before.status).toBe(200);
      const revoked = await t.call("POST", "/auth/v1/token/revoke", {
        body: { jti, reason: "laptop stolen" },
      });
      expect(revoked.status, revoked.text).toBe(200);
      const after = await t.call("GET", "/hsm/v2/State/Components", { token });
      expect(after.status).toBe(401);
      expect(after.json.detail).toBe("token has been revoked");
      expect(after.headers.get("www-authenticate")).toContain('error="invalid_token"');

      const list = await t.call("GET", "/auth/v1/revocations?active=true");
      expect(list.json.items).toContainEqual(expect.objectContaining({ jti, reason: "laptop stolen" }));
      const etag = list.headers.get("etag")!;
      expect(etag).not.toBe(before.headers.get("etag"));
      const same = await t.call("GET", "/auth/v1/revocations?active=true", {
        headers: { "If-None-Match": etag },
      });
      expect(same.status).toBe(304);
      const past = await t.call("POST", "/auth/v1/token/revoke", {
        body: { jti: "x", expiresAt: "2020-01-01T00:00:00Z" },
      });
      expect(past.status).toBe(422);
    });

    it("seals device credentials: lists redact, a GET reveals only to read:credentials", async () => {
      const created = await t.call("POST", "/auth/v1/credentials", {
        body: {
          id: "bmc-east",
          name: "East BMCs",
          type: "redfish",
          username: "root",
          secret: "hunter2-bmc-secret",
          tags: { site: "east", rack: "x1000" },
        },
      });
      expect(created.status, created.text).toBe(201);
      expect(created.text).not.toContain("hunter2-bmc-secret");
      await t.call("POST", "/auth/v1/credentials", {
        body: {
          id: "bmc-west",
          name: "West",
          type: "ipmi",
          username: "admin",
          secret: "west-secret",
          tags: { site: "west" },
        },
      });
      const list = await t.call("GET", "/auth/v1/credentials");
      expect(list.json.metadata.total).toBe(2);
      expect(list.text).not.toMatch(/hunter2|west-secret|"secret"/);
      const east = await t.call("GET", "/auth/v1/credentials?tag=site:east");
      expect(east.json.items.map((i: { spec: { id: string } }) => i.spec.id)).toEqual(["bmc-east"]);
      expect((await t.call("GET", "/auth/v1/credentials?tag=site")).status).toBe(400);

      const full = await t.call("GET", "/auth/v1/credentials/bmc-east");
      expect(full.json.spec.secret).toBe("hunter2-bmc-secret");

      // An operator manages credentials but does not read secrets.
      const op = await createAccount(t.call, { roles: ["operator"] });
      const opToken = await tokenFor(t.call, op.id, op.secret);
      const redacted = await t.call("GET", "/auth/v1/credentials/bmc-east", { token: opToken });
      expect(redacted.status).toBe(200);
      expect(redacted.json.spec).not.toHaveProperty("secret");
      expect(redacted.json.spec.username).toBe("root");
      const viewer = await createAccount(t.call, { roles: ["viewer"] });
      const viewerToken = await tokenFor(t.call, viewer.id, viewer.secret);
      expect((await t.call("GET", "/auth/v1/credentials", { token: viewerToken })).status).toBe(403);

      const noMatch = await t.call("PUT", "/auth/v1/credentials/bmc-east", {
        token: opToken,
        headers: { "If-Match": '"nope"' },
        body: { name: "East", type: "redfish", username: "root", secret: "rotated-secret" },
      });
      expect(noMatch.status).toBe(412);
      const replaced = await t.call("PUT", "/auth/v1/credentials/bmc-east", {
        token: opToken,
        headers: { "If-Match": full.headers.get("etag")! },
        body: {
          name: "East",
          type: "redfish",
          username: "root",
          secret: "rotated-secret",
          tags: { site: "east" },
        },
      });
      expect(replaced.status, replaced.text).toBe(200);
      expect((await t.call("GET", "/auth/v1/credentials/bmc-east")).json.spec.secret).toBe("rotated-secret");
      expect((await t.call("DELETE", "/auth/v1/credentials/bmc-east", { token: opToken })).status).toBe(204);
      expect((await t.call("GET", "/auth/v1/credentials/bmc-east")).status).toBe(404);
    });

    it("rotates keys: old tokens keep working until expiry, unless the previous key is revoked", async () => {
      const before = t.adminToken;
      const oldKid = decodeProtectedHeader(before).kid;
      const keys = await t.call("GET", "/auth/v1/keys");
      expect(keys.json.items).toEqual([expect.objectContaining({ kid: oldKid, active: true, alg: "ES256" })]);

      const rotated = await t.call("POST", "/auth/v1/keys/rotate");
      expect(rotated.status, rotated.text).toBe(200);
      expect(rotated.json.items).toHaveLength(2);
      const retired = rotated.json.items.find((k: { kid: string }) => k.kid === oldKid);
      expect(retired.active).toBe(false);
      // Published until the last token it signed has expired (TTL 3600 s plus 30 s of skew).
      const window = Date.parse(retired.publishedUntil) - Date.parse(retired.retiredAt);
      expect(window).toBeGreaterThan(3620_000);
      expect(window).toBeLessThanOrEqual(3630_000);

      const jwks = await t.call("GET", "/.well-known/jwks.json", { token: null });
      expect(jwks.json.keys.map((k: { kid: string }) => k.kid).sort()).toEqual(
        rotated.json.items.map((k: { kid: string }) => k.kid).sort(),
      );
      for (const k of jwks.json.keys) expect(k).not.toHaveProperty("d");
      expect((await t.call("GET", "/hsm/v2/State/Components", { token: before })).status).toBe(200);

      const fresh = await tokenFor(
        t.call,
        t.env.CHAMICORE_BOOTSTRAP_CLIENT_ID,
        t.env.CHAMICORE_BOOTSTRAP_CLIENT_SECRET,
      );
      expect(decodeProtectedHeader(fresh).kid).not.toBe(oldKid);

      const emergency = await t.call("POST", "/auth/v1/keys/rotate", {
        token: fresh,
        body: { revokePrevious: true },
      });
      expect(emergency.status, emergency.text).toBe(200);
      expect(emergency.json.items).toHaveLength(1);
      const gone = await t.call("GET", "/hsm/v2/State/Components", { token: fresh });
      expect(gone.status).toBe(401);
      expect(gone.json.detail).toBe("token was signed by an unknown or removed key");
      expect((await t.call("GET", "/hsm/v2/State/Components", { token: before })).status).toBe(401);
      const discovery = await t.call("GET", "/.well-known/openid-configuration", { token: null });
      expect(discovery.json).toMatchObject({
        issuer: "chamicore",
        grant_types_supported: expect.arrayContaining(["client_credentials"]),
      });
      expect(discovery.json.jwks_uri).toMatch(/\/\.well-known\/jwks\.json$/);
    });
  });
}

describe("dev mode", () => {
  let t: Target;
  beforeAll(async () => {
    t = await nodePgliteTarget({ CHAMICORE_DEV_MODE: "true" });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it("gives an admin token without credentials", async () => {
    const res = await t.call("POST", "/auth/v1/token", form({ grant_type: "client_credentials" }));
    expect(res.status).toBe(200);
    const claims = decodeJwt(res.json.access_token);
    expect(claims).toMatchObject({ sub: "dev", roles: ["admin"] });
    expect(scopesOf(res.json.access_token)).toContain("admin:auth");
    // Credentials, when given, are still checked.
    const wrong = await t.call(
      "POST",
      "/auth/v1/token",
      form({ grant_type: "client_credentials" }, basic("test-admin", "wrong")),
    );
    expect(wrong.status).toBe(401);
  });
});
