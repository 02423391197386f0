/**
 * `chamicore audit list` as an auditor runs it: the real bin in a child
 * process against a real `chamicore serve`. Changes made through the CLI by
 * the admin and refused for a viewer show up with their subject, route,
 * resource and status; the filters narrow (subject, resource, status, time
 * as RFC 3339 or a span), JSON, YAML and a terminal table read back alike;
 * a viewer is refused (exit 3) and bad flags are usage errors (exit 2).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type CliHome,
  cliAsserts,
  cliHomes,
  type Doc,
  loginAsAdmin,
  startTestControl,
  type TestControl,
} from "../support/cli";

const NODE = "x1000c0s3b0n0";

let control: TestControl;
const homes = cliHomes();
let admin: CliHome;
let viewer: CliHome;
let startedAt: string;

beforeAll(async () => {
  control = await startTestControl();
  admin = homes.home();
  viewer = homes.home();
  const login = await loginAsAdmin(admin, control);
  expect(login.code, login.stderr).toBe(0);
  startedAt = new Date().toISOString();
  const as = cliAsserts(admin);
  const account = await as.json([
    "auth",
    "service-accounts",
    "create",
    "--id",
    "auditee",
    "--role",
    "viewer",
  ]);
  const secret: string = account.spec.clientSecret;
  const viewerLogin = await viewer.run(
    ["auth", "login", "--endpoint", control.url, "--client-id", "auditee", "--client-secret-stdin"],
    { input: secret },
  );
  expect(viewerLogin.code, viewerLogin.stderr).toBe(0);
  await as.ok(["smd", "components", "create", "--id", NODE, "--role", "Compute", "--nid", "3"]);
  await as.ok(["smd", "components", "update", NODE, "--state", "Off"]);
  // The viewer may not create, and is refused (403).
  await cliAsserts(viewer).fails(3, ["smd", "components", "create", "--id", "x1000c0s4b0n0"]);
  await as.ok(["smd", "components", "delete", NODE]);
});

afterAll(async () => {
  homes.cleanup();
  await control?.stop();
});

describe("chamicore audit list", () => {
  it("shows each change and refusal with who made it, newest first, in every output format", async () => {
    const { json, yaml, table } = cliAsserts(admin);
    const doc = await json(["audit", "list", "--since", startedAt]);
    expect(doc.kind).toBe("AuditEventList");
    const steps = doc.items
      .map((i: Doc) => i.spec)
      .filter((s: Doc) => s.route !== "/auth/v1/token")
      .map((s: Doc) => [s.subject, s.method, s.route, s.resourceId, s.status]);
    expect(steps).toEqual([
      ["ops", "DELETE", "/hsm/v2/State/Components/:id", NODE, 204],
      ["auditee", "POST", "/hsm/v2/State/Components", null, 403],
      ["ops", "PATCH", "/hsm/v2/State/Components/:id", NODE, 200],
      ["ops", "POST", "/hsm/v2/State/Components", NODE, 201],
      ["ops", "POST", "/auth/v1/service-accounts", "auditee", 201],
    ]);
    // The two logins are there too: the client id tried, and that a token was issued.
    const logins = doc.items.map((i: Doc) => i.spec).filter((s: Doc) => s.route === "/auth/v1/token");
    expect(logins.map((s: Doc) => [s.subject, s.status, s.action])).toEqual([
      ["auditee", 200, "token issued"],
    ]);

    const asYaml = await yaml(["audit", "list", "--since", startedAt]);
    expect(asYaml.items.map((i: Doc) => i.spec.id)).toEqual(doc.items.map((i: Doc) => i.spec.id));

    const t = await table(["audit", "list", "--resource", NODE, "--oldest-first"]);
    expect(t.header).toEqual([
      "TIME",
      "SUBJECT",
      "CLIENT",
      "METHOD",
      "ROUTE",
      "RESOURCE",
      "STATUS",
      "ACTION",
    ]);
    expect(t.rows.map((r) => [r[1], r[3], r[5], r[6]])).toEqual([
      ["ops", "POST", NODE, "201"],
      ["ops", "PATCH", NODE, "200"],
      ["ops", "DELETE", NODE, "204"],
    ]);
    expect(t.rows.every((r) => r[2] === "127.0.0.1")).toBe(true);
  });

  it("filters by subject, status, method, time span and pages", async () => {
    const { json } = cliAsserts(admin);
    const spec = async (args: string[]) =>
      (await json(["audit", "list", ...args])).items.map((i: Doc) => i.spec);
    // Each run is a process of its own: run them side by side.
    const [refusals, recent, none, page] = await Promise.all([
      spec(["--subject", "auditee", "--status", "403"]),
      spec(["--method", "DELETE,PATCH", "--since", "1h"]),
      spec(["--until", "1h"]),
      json(["audit", "list", "--limit", "2", "--offset", "1"]),
    ]);
    expect(refusals.map((s: Doc) => s.route)).toEqual(["/hsm/v2/State/Components"]);
    expect(recent.map((s: Doc) => s.method)).toEqual(["DELETE", "PATCH"]);
    expect(none).toEqual([]);
    expect(page.items).toHaveLength(2);
    expect(page.metadata).toMatchObject({ limit: 2, offset: 1 });
    expect(page.metadata.total).toBeGreaterThanOrEqual(7);
  });

  it("refuses a viewer (exit 3) and bad flags (exit 2), and its help has examples", async () => {
    const { fails, ok } = cliAsserts(admin);
    const [refused, badSince, badLimit, badStatus, help] = await Promise.all([
      cliAsserts(viewer).fails(3, ["audit", "list"]),
      fails(2, ["audit", "list", "--since", "last tuesday"]),
      fails(2, ["audit", "list", "--limit", "-3"]),
      // What the API refuses is an API error (exit 1), naming the field.
      fails(1, ["audit", "list", "--status", "ok"]),
      ok(["audit", "list", "--help"]),
    ]);
    expect(refused).toMatch(/403|admin:audit/);
    expect(badSince).toMatch(/--since takes an RFC 3339 time/);
    expect(badLimit).toMatch(/--limit takes a whole number/);
    expect(badStatus).toMatch(/status/);
    expect(help.stdout).toMatch(/Examples:/);
    expect(help.stdout).toMatch(/--since/);
  });
});
