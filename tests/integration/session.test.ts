/**
 * The web UI's browser sessions, on Node and on the Worker: logging in sets
 * an HttpOnly, SameSite=Strict cookie and answers no token; the cookie
 * authenticates reads, and writes only from the UI's own origin (CSRF);
 * logging out revokes the token, so a copied cookie dies with it; plain
 * HTTP sessions are for localhost only, HTTPS ones are Secure and __Host-.
 */
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { nodePostgresTarget, type Target, workerTarget } from "../support/targets";

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
  ["node+postgres", () => nodePostgresTarget()],
  ["workerd+postgres", () => workerTarget({}, { artifacts: false })],
])("browser sessions on %s", (_name, start) => {
  let t: Target;
  let admin: { id: string; secret: string };
  beforeAll(async () => {
    t = await start();
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
