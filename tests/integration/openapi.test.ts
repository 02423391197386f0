/**
 * The OpenAPI document is the contract: it is valid OpenAPI 3.1 (checked by
 * a real validator), it documents exactly the routes the app serves, and
 * every operation declares its scope, a success answer and problem+json errors.
 */
import { compileErrors, validate } from "@readme/openapi-parser";
import { beforeAll, describe, expect, it } from "vitest";
import { documentApp, openApiDocument } from "../../control/openapi-document";

const METHODS = ["get", "put", "post", "delete", "options", "head", "patch", "trace"];
const PROBLEM_REF = "#/components/schemas/Problem";
/** Served but deliberately not part of the API document: the docs page and its assets, the web UI's redirect. */
const UNDOCUMENTED = /^\/(api\/(docs(\/|$)|openapi\.json$)|ui$)/;

interface Answer {
  content?: Record<string, { schema?: { $ref?: string } }>;
}
interface Operation {
  "x-required-scope"?: string | string[];
  security?: Record<string, string[]>[];
  responses: Record<string, Answer>;
}

const app = documentApp();

// biome-ignore lint/suspicious/noExplicitAny: the document is inspected freely.
let doc: any;
let operations: { name: string; path: string; op: Operation }[];

beforeAll(async () => {
  doc = await openApiDocument(app);
  operations = Object.entries<Record<string, Operation>>(doc.paths).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m]).map((m) => ({ name: `${m.toUpperCase()} ${path}`, path, op: item[m]! })),
  );
});

/** Collects the operations failing `check`, so a failure lists all of them. */
const offenders = (check: (op: Operation, path: string) => boolean) =>
  operations.filter(({ op, path }) => !check(op, path)).map(({ name }) => name);

const isProblem = (r: Answer | undefined) =>
  r?.content?.["application/problem+json"]?.schema?.$ref === PROBLEM_REF;

describe("OpenAPI document", () => {
  it("is valid OpenAPI 3.1", async () => {
    expect(doc.openapi).toMatch(/^3\.1\./);
    const result = await validate(structuredClone(doc));
    expect(result.valid, result.valid ? "" : compileErrors(result)).toBe(true);
    expect(doc.components.schemas.Problem).toBeDefined();
  });

  it("documents every route the app serves, and nothing else", () => {
    const served = new Set(
      app.routes
        .filter((r) => r.method !== "ALL" && !UNDOCUMENTED.test(r.path))
        .map((r) => `${r.method} ${r.path}`),
    );
    const documented = new Set(operations.map(({ name }) => name.replace(/\{([^}]+)\}/g, ":$1")));
    expect([...documented].sort()).toEqual([...served].sort());
  });

  it("gives every operation an x-required-scope (one scope, a list meaning any of them, or public)", () => {
    const scope = /^(public|(read|write|delete|admin):[a-z][a-z0-9-]*)$/;
    const valid = (s: Operation["x-required-scope"]) =>
      typeof s === "string"
        ? scope.test(s)
        : Array.isArray(s) && s.length > 1 && s.every((x) => scope.test(x) && x !== "public");
    expect(offenders((op) => valid(op["x-required-scope"]))).toEqual([]);
  });

  it("states the same scopes as OpenAPI security requirements, and none on public operations", () => {
    const scheme = doc.components.securitySchemes.chamicore;
    expect(scheme.type).toBe("oauth2");
    expect(scheme.flows.clientCredentials.tokenUrl).toBe("/auth/v1/token");
    const known = scheme.flows.clientCredentials.scopes;
    expect(
      offenders((op) => {
        const s = op["x-required-scope"]!;
        const list = s === "public" ? [] : Array.isArray(s) ? s : [s];
        const wanted = list.map((x) => ({ chamicore: [x] }));
        return JSON.stringify(op.security) === JSON.stringify(wanted) && list.every((x) => x in known);
      }),
    ).toEqual([]);
  });

  it("gives every operation a 2xx answer (a redirect for the two browser navigations of an IdP login)", () => {
    const navigations = ["/auth/v1/session/login/{provider}", "/auth/v1/session/callback"];
    expect(
      offenders((op, path) =>
        Object.keys(op.responses).some((s) => (navigations.includes(path) ? /^302$/ : /^2\d\d$/).test(s)),
      ),
    ).toEqual([]);
  });

  it("gives every operation a 4xx problem+json answer referencing Problem", () => {
    expect(
      offenders((op) => Object.entries(op.responses).some(([s, r]) => /^4\d\d$/.test(s) && isProblem(r))),
    ).toEqual([]);
  });

  it("lists 401 and 403 problems on every non-public operation", () => {
    expect(
      offenders(
        (op) =>
          op["x-required-scope"] === "public" ||
          (isProblem(op.responses["401"]) && isProblem(op.responses["403"])),
      ),
    ).toEqual([]);
  });

  it("has both public and scoped operations, so the checks above are not vacuous", () => {
    const scopes = operations.map(({ op }) => op["x-required-scope"]);
    expect(scopes).toContain("public");
    expect(scopes.filter((s) => s !== "public").length).toBeGreaterThan(10);
  });
});
