/**
 * The web UI's browser sessions, on Node and on the Worker: logging in sets
 * an HttpOnly, SameSite=Strict cookie and answers no token; the cookie
 * authenticates reads, and writes only from the UI's own origin (CSRF);
 * logging out revokes the token, so a copied cookie dies with it; plain
 * HTTP sessions are for localhost only, HTTPS ones are Secure and __Host-.
 * Logging in at an identity provider (a real OpenID Connect provider on
 * loopback): authorization code with PKCE, the user's groups mapped to
 * roles, and each way it can go wrong said on the UI's login page with
 * no session started.
 */
import { request } from "node:http";
import { type APIRequestContext, request as browserless } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type OidcProvider, startOidcProvider } from "../support/oidc";
import { nodePostgresTarget, type Target, workerTarget } from "../support/targets";

let op: OidcProvider;
beforeAll(async () => {
  op = await startOidcProvider({
    ada: { groups: ["hpc-users"], name: "Ada Lovelace" },
    nobody: { groups: [] },
  });
});
afterAll(() => op?.close());

/** The OP offered on the login page, and a second trusted issuer that is not (token exchange only). */
const idpEnv = () => ({
  CHAMICORE_TRUSTED_ISSUERS: JSON.stringify([
    op.trustedIssuer(),
    {
      issuer: "https://other.example",
      jwksUri: "https://other.example/jwks",
      audience: "chamicore",
      subjectPrefix: "other:",
    },
  ]),
});

/** Where a redirect of the login goes, as path + the UI route and its query. */
function landing(res: Response) {
  expect(res.status).toBe(302);
  const to = new URL(res.headers.get("location")!, "http://x");
  const [route = "", query = ""] = to.hash.slice(1).split("?");
  return { path: to.pathname, route, query: new URLSearchParams(query) };
}

/** Submits the page's form as a browser would: its action, its hidden fields and `fields`. */
async function submit(rc: APIRequestContext, html: string, fields: Record<string, string> = {}) {
  const action = /<form[^>]*action="([^"]+)"/.exec(html)?.[1];
  expect(action, html).toBeDefined();
  const hidden = Object.fromEntries(
    [...html.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)].map((m) => [m[1]!, m[2]!]),
  );
  return rc.post(action!, { form: { ...hidden, ...fields } });
}

/** Logs `user` in at the OP's own login and consent pages, as a browser would, without one. */
async function loginAtOp(rc: APIRequestContext, start: string, user: string) {
  const page = await rc.get(start);
  expect(page.url()).toContain(op.issuer);
  const consent = await submit(rc, await page.text(), { login: user, password: "any" });
  return submit(rc, await consent.text());
}

const login = (t: Target, clientId: string, clientSecret: string, headers: Record<string, string> = {}) =>
  fetch(`${t.url}/auth/v1/session`, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: JSON.stringify({ clientId, clientSecret }),
  });

/** A request with its own Host header (fetch sets Host from the URL). */
function withHost(url: string, init: { method: string; headers: Record<string, string>; body: string }) {
  return new Promise<Response>((resolve, reject) => {
    const req = request(url, { method: init.method, headers: init.headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const headers = new Headers();
        for (const [k, v] of Object.entries(res.headers)) if (typeof v === "string") headers.set(k, v);
        resolve(new Response(Buffer.concat(chunks), { status: res.statusCode, headers }));
      });
    });
    req.on("error", reject);
    req.end(init.body);
  });
}

/** `name=value` of the Set-Cookie header, and its attributes. */
function cookieOf(res: Response) {
  const header = res.headers.get("set-cookie") ?? "";
  const [pair = "", ...attrs] = header.split(/;\s*/);
  return { pair, attrs: attrs.map((a) => a.toLowerCase()) };
}

describe.each([
  ["node+postgres", () => nodePostgresTarget(idpEnv())],
  ["workerd+postgres", () => workerTarget(idpEnv(), { artifacts: false })],
])("browser sessions on %s", (_name, start) => {
  let t: Target;
  let admin: { id: string; secret: string };
  beforeAll(async () => {
    t = await start();
    op.allowRedirect(`${t.url}/auth/v1/session/callback`);
    admin = { id: t.env.CHAMICORE_BOOTSTRAP_CLIENT_ID, secret: t.env.CHAMICORE_BOOTSTRAP_CLIENT_SECRET };
    const r = await t.call("POST", "/hsm/v2/State/Components", {
      body: { id: "x1000c0s0b0n0", state: "Ready" },
    });
    expect(r.status, r.text).toBe(201);
  }, 180_000);
  afterAll(() => t?.stop());

  it("logs in with a cookie the page cannot read, and answers who is logged in", async () => {
    const res = await login(t, admin.id, admin.secret);
    expect(res.status).toBe(200);
    const body = (await res.json()) as { scopes: string[] };
    expect(body).toMatchObject({ subject: admin.id, roles: ["admin"] });
    expect(body.scopes).toContain("write:components");
    expect(JSON.stringify(body)).not.toMatch(/eyJ/); // no token in the body
    const { pair, attrs } = cookieOf(res);
    expect(pair).toMatch(/^chamicore-session=eyJ/);
    expect(attrs).toEqual(expect.arrayContaining(["httponly", "samesite=strict", "path=/"]));
    // Plain HTTP on localhost: a browser would refuse a Secure cookie here.
    expect(attrs).not.toContain("secure");

    const who = await fetch(`${t.url}/auth/v1/session`, { headers: { Cookie: pair } });
    expect(await who.json()).toMatchObject({ subject: admin.id });
    const nobody = await fetch(`${t.url}/auth/v1/session`);
    expect(nobody.status).toBe(200);
    expect(await nobody.json()).toEqual({ subject: null, roles: [], scopes: [], expiresAt: null });
  });

  it("refuses a wrong secret with the API's problem, and records who tried", async () => {
    const res = await login(t, admin.id, "not-the-secret");
    expect(res.status).toBe(401);
    expect(res.headers.get("content-type")).toContain("application/problem+json");
    expect(res.headers.get("set-cookie")).toBeNull();
    const audit = await t.call("GET", "/audit/v1/events?route=/auth/v1/session&status=401");
    expect(audit.json.items.map((i: { spec: { subject: string } }) => i.spec.subject)).toContain(admin.id);
  });

  it("takes a write with the cookie only from the UI's own origin", async () => {
    const { pair } = cookieOf(await login(t, admin.id, admin.secret));
    const patch = (headers: Record<string, string>) =>
      fetch(`${t.url}/hsm/v2/State/Components/x1000c0s0b0n0`, {
        method: "PATCH",
        headers: { Cookie: pair, "Content-Type": "application/json", ...headers },
        body: JSON.stringify({ state: "Off" }),
      });
    const state = async () => (await t.call("GET", "/hsm/v2/State/Components/x1000c0s0b0n0")).json.spec.state;

    const forged = await patch({ Origin: "https://evil.example", "Sec-Fetch-Site": "cross-site" });
    expect(forged.status).toBe(403);
    expect(((await forged.json()) as { detail: string }).detail).toContain("own origin");
    expect((await patch({})).status).toBe(403);
    expect(await state()).toBe("Ready");

    expect((await patch({ Origin: t.url! })).status).toBe(200);
    expect(await state()).toBe("Off");
    expect((await patch({ "Sec-Fetch-Site": "same-origin" })).status).toBe(200);
    // Reads need no origin.
    const read = await fetch(`${t.url}/hsm/v2/State/Components/x1000c0s0b0n0`, { headers: { Cookie: pair } });
    expect(read.status).toBe(200);
  });

  it("logs out: the cookie is cleared and its token revoked, so a copy of it no longer works", async () => {
    const { pair } = cookieOf(await login(t, admin.id, admin.secret));
    const out = await fetch(`${t.url}/auth/v1/session`, {
      method: "DELETE",
      headers: { Cookie: pair, Origin: t.url! },
    });
    expect(out.status).toBe(204);
    expect(out.headers.get("set-cookie")).toMatch(/chamicore-session=;.*Max-Age=0/i);
    const after = await fetch(`${t.url}/hsm/v2/State/Components`, { headers: { Cookie: pair } });
    expect(after.status).toBe(401);
    // Logging out with a session that is over already still clears the cookie.
    const again = await fetch(`${t.url}/auth/v1/session`, {
      method: "DELETE",
      headers: { Cookie: pair, Origin: t.url! },
    });
    expect(again.status).toBe(204);
    expect(again.headers.get("set-cookie")).toMatch(/chamicore-session=;.*Max-Age=0/i);
  });

  it("offers the identity providers that have login settings", async () => {
    const res = await fetch(`${t.url}/auth/v1/session/providers`);
    expect(await res.json()).toEqual({
      items: [{ id: "corp", name: "Corp SSO", issuer: op.issuer, loginUrl: "/auth/v1/session/login/corp" }],
    });
  });

  it("sends the browser to the provider with PKCE, and keeps the pending login in a Lax cookie", async () => {
    const res = await fetch(`${t.url}/auth/v1/session/login/corp?next=/inventory`, { redirect: "manual" });
    expect(res.status).toBe(302);
    const to = new URL(res.headers.get("location")!);
    expect(to.origin).toBe(op.issuer);
    expect(Object.fromEntries(to.searchParams)).toMatchObject({
      response_type: "code",
      client_id: op.clientId,
      redirect_uri: `${t.url}/auth/v1/session/callback`,
      scope: "openid profile groups",
      code_challenge_method: "S256",
      code_challenge: expect.stringMatching(/^[\w-]{43}$/),
      state: expect.any(String),
      nonce: expect.any(String),
    });
    const { pair, attrs } = cookieOf(res);
    expect(pair).toMatch(/^chamicore-login=/);
    // Lax: the provider's redirect back is a navigation from another site.
    expect(attrs).toEqual(expect.arrayContaining(["httponly", "samesite=lax", "path=/", "max-age=600"]));
    // The verifier is in the cookie, never in the URL the provider sees.
    expect(to.search).not.toContain(pair.split("=")[1]!.slice(0, 20));
  });

  it("logs a user in at the provider, their groups mapped to roles, and records it", async () => {
    const rc = await browserless.newContext();
    try {
      const end = await loginAtOp(rc, `${t.url}/auth/v1/session/login/corp?next=/inventory`, "ada");
      // Back in the UI, at the page the login started from.
      expect(end.url()).toBe(`${t.url}/ui/#/inventory`);
      const who = await (await rc.get(`${t.url}/auth/v1/session`)).json();
      expect(who).toMatchObject({ subject: "corp:ada", roles: ["viewer"] });
      expect(who.scopes).toContain("read:components");
      expect(who.scopes).not.toContain("write:components");
      const cookies = (await rc.storageState()).cookies.map((c) => c.name);
      expect(cookies).toContain("chamicore-session");
      expect(cookies).not.toContain("chamicore-login"); // used once
      const audit = await t.call("GET", "/audit/v1/events?subject=corp:ada");
      expect(audit.json.items.map((e: { spec: unknown }) => e.spec)).toContainEqual(
        expect.objectContaining({
          method: "GET",
          route: "/auth/v1/session/callback",
          action: "session started",
        }),
      );
    } finally {
      await rc.dispose();
    }
  });

  it("starts no session for a provider user without a role, and says why", async () => {
    const rc = await browserless.newContext();
    try {
      const end = await loginAtOp(rc, `${t.url}/auth/v1/session/login/corp`, "nobody");
      expect(end.url()).toContain(`${t.url}/ui/#/login?failed=`);
      const why = new URLSearchParams(new URL(end.url()).hash.split("?")[1]).get("failed");
      expect(why).toMatch(/'corp:nobody' holds no Chamicore role/);
      expect((await rc.storageState()).cookies.map((c) => c.name)).not.toContain("chamicore-session");
      const audit = await t.call("GET", "/audit/v1/events?subject=corp:nobody");
      expect(audit.json.items[0]?.spec).toMatchObject({ action: "login refused (403)" });
    } finally {
      await rc.dispose();
    }
  });

  it("refuses an answer it did not ask for, one the provider refused, and a forged code", async () => {
    const callback = (query: string, cookie?: string) =>
      fetch(`${t.url}/auth/v1/session/callback?${query}`, {
        redirect: "manual",
        headers: cookie ? { Cookie: cookie } : {},
      });
    const begun = await fetch(`${t.url}/auth/v1/session/login/corp`, { redirect: "manual" });
    const pending = cookieOf(begun).pair;
    const state = new URL(begun.headers.get("location")!).searchParams.get("state")!;

    const cases: [string, string | undefined, RegExp][] = [
      ["code=abc&state=xyz", undefined, /no login was started from this browser/],
      ["code=abc&state=not-the-state", pending, /not for the login this browser started/],
      [
        `error=access_denied&error_description=nope&state=${state}&iss=${encodeURIComponent(op.issuer)}`,
        pending,
        /Corp SSO refused the login: access_denied \(nope\)/,
      ],
      // RFC 9207: the provider says it names itself in its answers, so an answer without `iss` is refused.
      [`code=abc&state=${state}`, pending, /could not be used to log in: .*"iss"/],
      [
        `code=forged&state=${state}&iss=${encodeURIComponent(op.issuer)}`,
        pending,
        /Corp SSO refused the login: invalid_grant/,
      ],
    ];
    for (const [query, cookie, why] of cases) {
      const res = await callback(query, cookie);
      const to = landing(res);
      expect(to).toMatchObject({ path: "/ui/", route: "/login" });
      expect(to.query.get("failed")).toMatch(why);
      // No session, and the pending login is used up.
      expect(res.headers.get("set-cookie") ?? "").not.toMatch(/chamicore-session=[^;]/);
    }
    const unknown = landing(await fetch(`${t.url}/auth/v1/session/login/nope`, { redirect: "manual" }));
    expect(unknown.query.get("failed")).toMatch(/no identity provider 'nope'/);
    // The issuer without login settings is not a way in.
    const other = landing(await fetch(`${t.url}/auth/v1/session/login/other`, { redirect: "manual" }));
    expect(other.query.get("failed")).toMatch(/no identity provider 'other'/);
  });

  it("goes back only to a page of the UI after a login", async () => {
    for (const next of ["//evil.example/x", "https://evil.example", "\\\\evil.example"]) {
      const res = await fetch(`${t.url}/auth/v1/session/login/corp?next=${encodeURIComponent(next)}`, {
        redirect: "manual",
      });
      const pending = decodeURIComponent(cookieOf(res).pair.split("=")[1]!);
      expect(JSON.parse(atob(pending)).next).toBe("/");
    }
  });

  it("keeps no session over plain HTTP except on localhost, and says what to do", async () => {
    const init = {
      method: "POST",
      headers: { "Content-Type": "application/json", Host: "chamicore.example" },
      body: JSON.stringify({ clientId: admin.id, clientSecret: admin.secret }),
    };
    // The Worker's test dispatch is addressed to http://control.test; Node is told its host.
    const res =
      t.name === "node+postgres"
        ? await withHost(`${t.url}/auth/v1/session`, init)
        : await t.fetch("/auth/v1/session", init);
    expect(res.status).toBe(400);
    expect(((await res.json()) as { detail: string }).detail).toContain("needs HTTPS");
    expect(res.headers.get("set-cookie")).toBeNull();
  });
});

describe("browser sessions behind HTTPS (node+postgres)", () => {
  let t: Target;
  beforeAll(async () => {
    t = await nodePostgresTarget({ CHAMICORE_PUBLIC_URL: "https://chamicore.example" });
  }, 120_000);
  afterAll(() => t?.stop());

  it("sets a Secure __Host- cookie, and takes writes from the public origin", async () => {
    const res = await login(t, t.env.CHAMICORE_BOOTSTRAP_CLIENT_ID, t.env.CHAMICORE_BOOTSTRAP_CLIENT_SECRET);
    expect(res.status).toBe(200);
    const { pair, attrs } = cookieOf(res);
    expect(pair).toMatch(/^__Host-chamicore-session=eyJ/);
    expect(attrs).toEqual(expect.arrayContaining(["secure", "httponly", "samesite=strict", "path=/"]));
    const create = await fetch(`${t.url}/hsm/v2/State/Components`, {
      method: "POST",
      headers: { Cookie: pair, "Content-Type": "application/json", Origin: "https://chamicore.example" },
      body: JSON.stringify({ id: "x1000c0s0b0n1", state: "Ready" }),
    });
    expect(create.status).toBe(201);
    // Over HTTPS a plain cookie is not a session (a sibling host or plain HTTP could have planted it).
    const token = pair.slice(pair.indexOf("=") + 1);
    const planted = await fetch(`${t.url}/hsm/v2/State/Components`, {
      headers: { Cookie: `chamicore-session=${token}` },
    });
    expect(planted.status).toBe(401);
  });
});
