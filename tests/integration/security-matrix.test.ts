/**
 * The security matrix, generated from the served OpenAPI document rather
 * than hand-listed: every non-public operation answers each kind of bad
 * token with a 401 problem and a Bearer challenge, a valid token without the
 * operation's scope with a 403 insufficient_scope problem, and lets a token
 * holding just that scope through. It runs against the Node server and the
 * wrangler-built Worker in workerd, both on Postgres. A route registered
 * without a scope declaration (bypassing defineRoute) fails the first test.
 */
import { randomUUID } from "node:crypto";
import type { OpenAPIHono } from "@hono/zod-openapi";
import { generateKeyPair, SignJWT } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createControlApp } from "../../control/app";
import { authSettingsOf, WorkerAuthEnvSchema } from "../../control/config";
import { type NodeDatabase, openDatabase } from "../../control/db/node";
import { pgStores } from "../../control/stores";
import { Keyring } from "../../functions/auth";
import type { AuthSettings } from "../../functions/auth/settings";
import { parseEnv, ServingEnvSchema, servingSettingsOf } from "../../functions/config";
import type { AppEnv } from "../../functions/env";
import type { SecretKey } from "../../shared/auth/crypto";
import { generateMasterKey } from "../../shared/auth/crypto";
import { silentLogger } from "../../shared/log";
import { Registry } from "../../shared/metrics";
import { type Answer, nodePostgresTarget, type Target, workerTarget } from "../support/targets";

const METHODS = ["get", "put", "post", "delete", "patch"];
/** Served but deliberately not part of the API document: the docs page and its assets, the web UI's redirect. */
const UNDOCUMENTED = /^\/(api\/(docs(\/|$)|openapi\.json$)|ui$)/;
const PROBLEM = /^application\/problem\+json\b/;

interface Param {
  name: string;
  in: string;
  schema?: { pattern?: string; example?: string };
}
interface Operation {
  "x-required-scope"?: string | string[];
  parameters?: Param[];
  requestBody?: unknown;
}
interface Doc {
  paths: Record<string, Record<string, Operation>>;
}

/** Every documented operation, named "METHOD /path/{param}". */
const operationsOf = (doc: Doc) =>
  Object.entries(doc.paths).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m]).map((m) => ({ method: m.toUpperCase(), path, op: item[m]! })),
  );

/** The scopes an operation accepts (any of), [] for public, undefined when it declares none. */
function scopesOf(op: Operation): string[] | undefined {
  const s = op["x-required-scope"];
  if (s === "public") return [];
  if (typeof s === "string" && s) return [s];
  if (Array.isArray(s) && s.length > 0) return s;
  return undefined;
}

/** Served routes that the document does not list with an x-required-scope. */
async function undeclaredRoutes(app: OpenAPIHono<AppEnv>): Promise<string[]> {
  const doc = (await (await app.request("/api/openapi.json")).json()) as Doc;
  const declared = new Set(
    operationsOf(doc)
      .filter(({ op }) => scopesOf(op) !== undefined)
      .map(({ method, path }) => `${method} ${path.replace(/\{([^}]+)\}/g, ":$1")}`),
  );
  const served = new Set(
    app.routes
      .filter((r) => r.method !== "ALL" && !UNDOCUMENTED.test(r.path))
      .map((r) => `${r.method} ${r.path}`),
  );
  return [...served].filter((r) => !declared.has(r)).sort();
}

function inProcessApp(): OpenAPIHono<AppEnv> {
  const settings = authSettingsOf(parseEnv(WorkerAuthEnvSchema, {}), generateMasterKey());
  return createControlApp({
    logger: silentLogger,
    registry: new Registry(),
    runtime: "node",
    stores: async (_c, next) => next(),
    auth: { settings, keyring: new Keyring(settings), bundleKeyring: new Keyring(settings) },
    serving: servingSettingsOf(parseEnv(ServingEnvSchema, {}), () => undefined),
  });
}

describe("scope declarations", () => {
  it("cover every route the app serves", async () => {
    const missing = await undeclaredRoutes(inProcessApp());
    expect(missing, `routes served without a declared scope: ${missing.join(", ")}`).toEqual([]);
  });

  it("catch a route registered without defineRoute", async () => {
    const before = await undeclaredRoutes(inProcessApp());
    const app = inProcessApp();
    app.get("/hsm/v2/unscoped", (c) => c.json({}));
    const added = (await undeclaredRoutes(app)).filter((r) => !before.includes(r));
    expect(added).toEqual(["GET /hsm/v2/unscoped"]);
  });
});

/** A concrete value for a path parameter, matching its documented pattern. */
function paramValue(p: Param): string {
  const candidates = [p.name === "role" ? "viewer" : "matrix-test-id", p.schema?.example ?? ""];
  const pattern = p.schema?.pattern ? new RegExp(p.schema.pattern) : undefined;
  const value = candidates.find((v) => v && (!pattern || pattern.test(v)));
  if (!value) throw new Error(`no value for path parameter ${p.name} matching ${p.schema?.pattern}`);
  return value;
}

interface MatrixOp {
  name: string;
  method: string;
  path: string;
  scopes: string[];
  body: unknown;
}

/** Signs tokens with the target's real signing key, read from its database. */
interface Signing {
  settings: AuthSettings;
  kid: string;
  alg: "ES256" | "RS256";
  key: SecretKey;
}

interface Claims {
  scopes: readonly string[];
  iss?: string;
  aud?: string;
  /** Offsets from now, in seconds. */
  iat?: number;
  nbf?: number;
  exp?: number;
  kid?: string;
  key?: SecretKey;
}

const HOUR = 3600;

async function sign(s: Signing, c: Claims): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  return new SignJWT({ scope: c.scopes.join(" "), roles: ["admin"] })
    .setProtectedHeader({ alg: s.alg, kid: c.kid ?? s.kid, typ: "at+jwt" })
    .setIssuer(c.iss ?? s.settings.issuer)
    .setAudience(c.aud ?? s.settings.audience)
    .setSubject("security-matrix")
    .setIssuedAt(now + (c.iat ?? 0))
    .setNotBefore(now + (c.nbf ?? 0))
    .setExpirationTime(now + (c.exp ?? HOUR))
    .setJti(randomUUID())
    .sign(c.key ?? s.key);
}

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString("base64url");

/** The same token with one byte of its signature changed. */
function tamper(token: string): string {
  const [h, p, sig] = token.split(".") as [string, string, string];
  const bytes = Buffer.from(sig, "base64url");
  bytes[10] = bytes[10]! ^ 0xff;
  return `${h}.${p}.${bytes.toString("base64url")}`;
}

/** The Authorization header of every case that must be refused with 401 (null: none sent). */
async function unauthorizedCases(
  s: Signing,
  scopes: readonly string[],
  revoke: (jti: string) => Promise<void>,
): Promise<[string, string | null][]> {
  const bearer = (t: string) => `Bearer ${t}`;
  const foreign = await generateKeyPair(s.alg);
  const now = Math.floor(Date.now() / 1000);
  const unsigned = `${b64url({ alg: "none", kid: s.kid, typ: "at+jwt" })}.${b64url({
    iss: s.settings.issuer,
    aud: s.settings.audience,
    sub: "security-matrix",
    iat: now,
    nbf: now,
    exp: now + HOUR,
    jti: randomUUID(),
    scope: scopes.join(" "),
    roles: ["admin"],
  })}.`;
  const revoked = await sign(s, { scopes });
  const jti = JSON.parse(Buffer.from(revoked.split(".")[1]!, "base64url").toString()).jti as string;
  await revoke(jti);
  return [
    ["missing token", null],
    ["malformed token (Bearer abc)", "Bearer abc"],
    ["non-Bearer scheme", `Basic ${btoa("test-admin:secret")}`],
    ["empty Bearer", "Bearer "],
    ["signed by another key with the real kid", bearer(await sign(s, { scopes, key: foreign.privateKey }))],
    ["altered signature", bearer(tamper(await sign(s, { scopes })))],
    ["alg none", bearer(unsigned)],
    ["expired", bearer(await sign(s, { scopes, iat: -2 * HOUR, nbf: -2 * HOUR, exp: -HOUR }))],
    ["not yet valid", bearer(await sign(s, { scopes, nbf: HOUR, exp: 2 * HOUR }))],
    ["wrong issuer", bearer(await sign(s, { scopes, iss: "https://issuer.invalid" }))],
    ["wrong audience", bearer(await sign(s, { scopes, aud: "someone-else" }))],
    ["revoked", bearer(revoked)],
    ["unknown kid", bearer(await sign(s, { scopes, kid: "unknown-kid-000000" }))],
  ];
}

const describeAnswer = (a: Answer) =>
  `${a.status} ${a.headers.get("content-type") ?? "-"} WWW-Authenticate=${
    a.headers.get("www-authenticate") ?? "-"
  } ${a.text.slice(0, 160)}`;

for (const [name, start] of [
  ["node+postgres", nodePostgresTarget],
  ["workerd+postgres", workerTarget],
] as const) {
  describe.sequential(`security matrix on ${name}`, () => {
    let target: Target;
    let db: NodeDatabase | undefined;
    let signing: Signing;
    let ops: MatrixOp[];
    let undeclared: string[];
    let allScopes: string[];

    beforeAll(async () => {
      target = await start();
      db = await openDatabase({ databaseUrl: target.databaseUrl, dataDir: "/nonexistent" });
      const settings = authSettingsOf(
        parseEnv(WorkerAuthEnvSchema, target.env),
        target.env.CHAMICORE_MASTER_KEY,
      );
      const signer = await new Keyring(settings).signingKey(pgStores(db.db).auth.keys);
      signing = { settings, kid: signer.kid, alg: signer.alg, key: signer.key };

      const res = await target.call("GET", "/api/openapi.json", { token: null });
      expect(res.status).toBe(200);
      const all = operationsOf(res.json as Doc);
      undeclared = all.filter(({ op }) => scopesOf(op) === undefined).map((o) => `${o.method} ${o.path}`);
      ops = all
        .filter(({ op }) => (scopesOf(op) ?? []).length > 0)
        .map(({ method, path, op }) => {
          let concrete = path;
          for (const p of op.parameters ?? [])
            if (p.in === "path")
              concrete = concrete.replace(`{${p.name}}`, encodeURIComponent(paramValue(p)));
          return {
            name: `${method} ${path}`,
            method,
            path: concrete,
            scopes: scopesOf(op)!,
            body: op.requestBody ? {} : undefined,
          };
        });
      allScopes = [...new Set(ops.flatMap((o) => o.scopes))];
    });

    afterAll(async () => {
      await db?.close();
      await target?.stop();
    });

    it("covers every non-public operation of the document, /metrics, /hsm and /auth", () => {
      expect(undeclared, "operations without x-required-scope").toEqual([]);
      expect(ops.length).toBeGreaterThan(30);
      const names = ops.map((o) => o.name);
      expect(names).toContain("GET /metrics");
      expect(names.filter((n) => n.includes(" /hsm/")).length).toBeGreaterThan(10);
      expect(names.filter((n) => n.includes(" /auth/")).length).toBeGreaterThan(10);
      expect(ops.every((o) => !o.path.includes("{"))).toBe(true);
    });

    it("answers 401 problem+json with a Bearer challenge to every bad token", async () => {
      const cases = await unauthorizedCases(signing, allScopes, async (jti) => {
        const r = await target.call("POST", "/auth/v1/token/revoke", { body: { jti, reason: "test" } });
        expect(r.status, r.text).toBe(200);
      });
      expect(cases.length).toBe(13);
      const failures: string[] = [];
      for (const op of ops) {
        const answers = await Promise.all(
          cases.map(([, auth]) =>
            target.call(op.method, op.path, {
              body: op.body,
              token: null,
              headers: auth === null ? {} : { Authorization: auth },
            }),
          ),
        );
        answers.forEach((a, i) => {
          const ok =
            a.status === 401 &&
            PROBLEM.test(a.headers.get("content-type") ?? "") &&
            (a.headers.get("www-authenticate") ?? "").startsWith("Bearer");
          if (!ok) failures.push(`${op.name} [${cases[i]![0]}]: ${describeAnswer(a)}`);
        });
      }
      expect(failures).toEqual([]);
    });

    it("answers 403 insufficient_scope to a valid token holding every other scope", async () => {
      const failures: string[] = [];
      for (const op of ops) {
        const others = allScopes.filter((s) => !op.scopes.includes(s));
        const a = await target.call(op.method, op.path, {
          body: op.body,
          token: await sign(signing, { scopes: others }),
        });
        const ok =
          a.status === 403 &&
          PROBLEM.test(a.headers.get("content-type") ?? "") &&
          (a.headers.get("www-authenticate") ?? "").includes("insufficient_scope");
        if (!ok) failures.push(`${op.name} [lacks ${op.scopes.join(" or ")}]: ${describeAnswer(a)}`);
      }
      expect(failures).toEqual([]);
    });

    it("lets a token holding just the operation's scope through", async () => {
      const failures: string[] = [];
      for (const op of ops) {
        const a = await target.call(op.method, op.path, {
          body: op.body,
          token: await sign(signing, { scopes: [op.scopes[0]!] }),
        });
        if (a.status === 401 || a.status === 403 || a.status >= 500)
          failures.push(`${op.name} [holds ${op.scopes[0]}]: ${describeAnswer(a)}`);
      }
      expect(failures).toEqual([]);
    });
  });
}
