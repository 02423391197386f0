/**
 * `chamicore auth` administration as an operator uses it: the real bin as a
 * subprocess against a real `chamicore serve`, logged in as the bootstrap
 * admin. A service account's secret is shown once and logs in from another
 * home, whose viewer token is refused (403, exit 3) beyond its role; a reset
 * secret replaces the old one; role members, policies and device
 * credentials round-trip; a revoked token fails (401, exit 3); keys list and
 * rotate. Output is read back as JSON, YAML and a terminal table.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { type CliHome, type CliResult, cliHomes, startTestControl, type TestControl } from "../support/cli";
import { tokenFor, urlCall } from "../support/targets";

/** Every subcommand of this module: its help must render with examples. */
const SUBCOMMANDS = [
  "service-accounts list",
  "service-accounts get",
  "service-accounts create",
  "service-accounts update",
  "service-accounts delete",
  "service-accounts reset-secret",
  "roles list",
  "roles add-member",
  "roles remove-member",
  "policies list",
  "policies create",
  "policies delete",
  "credentials list",
  "credentials get",
  "credentials create",
  "credentials update",
  "credentials delete",
  "revocations list",
  "revoke",
  "keys list",
  "keys rotate",
];
/** Their help pages, checked one at a time alongside the other tests (which mostly wait on one process). */
let helpChecked: Promise<string[]>;

let control: TestControl;
let ops: CliHome;
let viewer: CliHome;
const homes = cliHomes();
const home = homes.home;

beforeAll(async () => {
  const helpHome = home();
  helpChecked = (async () => {
    const failures: string[] = [];
    for (const c of SUBCOMMANDS) {
      const r = await helpHome.run(["auth", ...c.split(" "), "--help"]);
      if (r.code !== 0 || !r.stdout.includes("Examples:")) failures.push(`${c}: exit ${r.code} ${r.stderr}`);
    }
    return failures;
  })();
  control = await startTestControl();
  ops = home();
  viewer = home();
  const r = await ops.run(
    ["auth", "login", "--endpoint", control.url, "--client-id", "ops", "--client-secret-stdin"],
    { input: control.admin.secret },
  );
  expect(r.code, r.stderr).toBe(0);
});

afterAll(async () => {
  homes.cleanup();
  await control?.stop();
});

/** Runs as ops and expects success. */
async function okAs(
  h: CliHome,
  args: string[],
  opts: Parameters<CliHome["run"]>[1] = {},
): Promise<CliResult> {
  const r = await h.run(args, opts);
  expect(r.code, `chamicore ${args.join(" ")}\n${r.stdout}\n${r.stderr}`).toBe(0);
  return r;
}
const ok = (args: string[], opts?: Parameters<CliHome["run"]>[1]) => okAs(ops, args, opts);
// biome-ignore lint/suspicious/noExplicitAny: documents parsed back from the CLI's output
const json = async (args: string[], opts?: Parameters<CliHome["run"]>[1]): Promise<any> =>
  JSON.parse((await ok([...args, "-o", "json"], opts)).stdout);

/** The rows of the first table in `text` whose header starts with `first`, by header. */
function tableRows(text: string, first: string): Record<string, string>[] {
  const lines = text.split("\n");
  const at = lines.findIndex((l) => l.startsWith(`${first} `));
  expect(at, text).toBeGreaterThanOrEqual(0);
  const header = lines[at]!;
  // Columns start where the header's words do (cells are padded to them).
  const starts = [...header.matchAll(/(?:^|\s{2,})(\S)/g)].map((m) => m.index! + m[0].length - 1);
  const names = starts.map((s, i) => header.slice(s, starts[i + 1]).trim());
  const rows: Record<string, string>[] = [];
  for (const line of lines.slice(at + 1)) {
    if (!line.trim() || !/^\S+\s{2,}/.test(line)) break;
    rows.push(Object.fromEntries(names.map((n, i) => [n, line.slice(starts[i], starts[i + 1]).trim()])));
  }
  return rows;
}

const loginAs = (h: CliHome, id: string, secret: string) =>
  h.run(["auth", "login", "--endpoint", control.url, "--client-id", id, "--client-secret-stdin"], {
    input: secret,
  });

describe("chamicore auth service-accounts", () => {
  let secret = "";

  it("creates an account whose secret is printed once and logs in from another home, held to its role", async () => {
    const created = await ok(
      [
        "auth",
        "service-accounts",
        "create",
        "--id",
        "cli-viewer",
        "--role",
        "viewer",
        "--description",
        "e2e",
      ],
      { tty: true },
    );
    const [row] = tableRows(created.stdout, "ID");
    expect(row).toMatchObject({ ID: "cli-viewer", ROLES: "viewer", ENABLED: "true" });
    secret = row!["CLIENT SECRET"]!;
    expect(secret.length).toBeGreaterThanOrEqual(16);
    expect(created.stdout).toMatch(/will not be shown again/);

    expect((await loginAs(viewer, "cli-viewer", secret)).code).toBe(0);
    const [whoami, refused, yaml] = await Promise.all([
      okAs(viewer, ["auth", "whoami", "-o", "json"]),
      viewer.run(["auth", "service-accounts", "create", "--id", "sneaky", "--role", "admin"]),
      ok(["auth", "service-accounts", "get", "cli-viewer", "-o", "yaml"]),
    ]);
    expect(JSON.parse(whoami.stdout)).toMatchObject({ subject: "cli-viewer", roles: ["viewer"] });
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/HTTP 403/);
    // Read back, as YAML: never the secret.
    const got = parse(yaml.stdout);
    expect(got.spec).toEqual({
      id: "cli-viewer",
      description: "e2e",
      roles: ["viewer"],
      scopes: null,
      enabled: true,
    });
    expect(yaml.stdout).not.toContain(secret);
  });

  it("resets the secret: the old one no longer logs in, the new one does", async () => {
    const reset = await json(["auth", "service-accounts", "reset-secret", "cli-viewer"]);
    const fresh: string = reset.spec.clientSecret;
    expect(fresh).toBeTruthy();
    expect(fresh).not.toBe(secret);
    const [old, now] = await Promise.all([
      loginAs(home(), "cli-viewer", secret),
      loginAs(home(), "cli-viewer", fresh),
    ]);
    expect(old.code, old.stderr).toBe(3);
    expect(old.stderr).toMatch(/login refused/);
    expect(now.code, now.stderr).toBe(0);
  });

  it("updates, lists with filters and deletes", async () => {
    const [updated] = await Promise.all([
      json([
        "auth",
        "service-accounts",
        "update",
        "cli-viewer",
        "--description",
        "changed",
        "--scope",
        "read:components,read:metrics",
      ]),
      ok(["auth", "service-accounts", "create", "--id", "cli-doomed", "--no-enabled"]),
    ]);
    expect(updated.spec).toMatchObject({
      description: "changed",
      scopes: ["read:components", "read:metrics"],
    });
    const [viewers, disabled] = await Promise.all([
      json(["auth", "service-accounts", "list", "--role", "viewer"]),
      json(["auth", "service-accounts", "list", "--no-enabled"]),
    ]);
    expect(viewers.items.map((i: { spec: { id: string } }) => i.spec.id)).toEqual(["cli-viewer"]);
    expect(disabled.items.map((i: { spec: { id: string } }) => i.spec.id)).toEqual(["cli-doomed"]);
    const del = await ok(["auth", "service-accounts", "delete", "cli-doomed"]);
    expect(del.stderr).toMatch(/deleted service account cli-doomed/);
    const gone = await ops.run(["auth", "service-accounts", "get", "cli-doomed"]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/HTTP 404/);
  });
});

describe("chamicore auth roles and policies", () => {
  const operatorMembers = async (): Promise<string[]> => {
    const roles = await json(["auth", "roles", "list"]);
    return roles.items.find((r: { name: string }) => r.name === "operator")?.members ?? [];
  };

  it("adds and removes a role member", async () => {
    const added = await json(["auth", "roles", "add-member", "operator", "cli-viewer"]);
    expect(added).toMatchObject({ name: "operator", members: expect.arrayContaining(["cli-viewer"]) });
    // On a terminal the list is a table.
    const [members, onTerminal] = await Promise.all([
      operatorMembers(),
      ok(["auth", "roles", "list"], { tty: true }),
    ]);
    expect(members).toContain("cli-viewer");
    const table = tableRows(onTerminal.stdout, "ROLE");
    expect(table.find((r) => r.ROLE === "operator")?.MEMBERS?.split(",")).toContain("cli-viewer");
    expect(table.find((r) => r.ROLE === "admin")).toMatchObject({ MEMBERS: "ops", SCOPES: "*" });

    const removed = await ok(["auth", "roles", "remove-member", "operator", "cli-viewer"]);
    expect(removed.stderr).toMatch(/removed cli-viewer from role operator/);
    const [after, again] = await Promise.all([
      operatorMembers(),
      ops.run(["auth", "roles", "remove-member", "operator", "cli-viewer"]),
    ]);
    expect(after).not.toContain("cli-viewer");
    expect(again.code).toBe(1);
  });

  it("creates, lists and deletes policies (by id and by role and scope)", async () => {
    const [a, b] = await Promise.all([
      json(["auth", "policies", "create", "auditor", "read:components"]),
      json(["auth", "policies", "create", "auditor", "read:*"]),
    ]);
    expect(a.spec).toEqual({ role: "auditor", scope: "read:components" });
    const [listed, dup] = await Promise.all([
      json(["auth", "policies", "list", "--role", "auditor"]),
      ops.run(["auth", "policies", "create", "auditor", "read:*"]),
    ]);
    expect(listed.items.map((p: { metadata: { id: string } }) => p.metadata.id).sort()).toEqual(
      [a.metadata.id, b.metadata.id].sort(),
    );
    expect(dup.code).toBe(1);
    expect(dup.stderr).toMatch(/HTTP 409/);

    await Promise.all([
      ok(["auth", "policies", "delete", a.metadata.id]),
      ok(["auth", "policies", "delete", "--role", "auditor", "--scope", "read:*"]),
    ]);
    const after = await json(["auth", "policies", "list"]);
    expect(after.items.filter((p: { spec: { role: string } }) => p.spec.role === "auditor")).toEqual([]);
  });
});

describe("chamicore auth credentials", () => {
  // Read from stdin as it is: not as YAML (which would make this a map).
  const SECRET = "bmc: p@ss word 0x10";

  it("creates, lists (redacted), gets, replaces and deletes a credential", async () => {
    const created = await json(
      [
        "auth",
        "credentials",
        "create",
        "--id",
        "bmc-east",
        "--name",
        "east BMCs",
        "--type",
        "redfish",
        "--username",
        "root",
        "--tag",
        "site=east",
        "--secret-stdin",
      ],
      { input: `${SECRET}\n` },
    );
    expect(created.spec).toEqual({
      id: "bmc-east",
      name: "east BMCs",
      type: "redfish",
      username: "root",
      tags: { site: "east" },
    });

    const [all, east, west, plain, shown, noSecret] = await Promise.all([
      ok(["auth", "credentials", "list", "-o", "json"]),
      json(["auth", "credentials", "list", "--tag", "site=east"]),
      json(["auth", "credentials", "list", "--tag", "site:west"]),
      ok(["auth", "credentials", "get", "bmc-east", "-o", "json"]),
      json(["auth", "credentials", "get", "bmc-east", "--show-secret"]),
      ops.run(["auth", "credentials", "create", "--name", "x", "--type", "ipmi", "--username", "u"]),
    ]);
    expect(all.stdout).not.toContain("p@ss");
    expect(JSON.parse(all.stdout).items[0].spec).toEqual({
      id: "bmc-east",
      name: "east BMCs",
      type: "redfish",
      username: "root",
      tags: { site: "east" },
    });
    expect(east.items.map((i: { spec: { id: string } }) => i.spec.id)).toEqual(["bmc-east"]);
    expect(west.items).toEqual([]);
    expect(plain.stdout).not.toContain("p@ss");
    expect(JSON.parse(plain.stdout).spec.id).toBe("bmc-east");
    expect(shown.spec.secret).toBe(SECRET);
    expect(noSecret.code).toBe(2);
    expect(noSecret.stderr).toMatch(/give the secret/);

    // PUT with If-Match from a GET: the secret not given is kept.
    const replaced = await json([
      "auth",
      "credentials",
      "update",
      "bmc-east",
      "--username",
      "admin",
      "--tag",
      "rack=x1",
    ]);
    expect(replaced.spec).toMatchObject({ username: "admin", tags: { site: "east", rack: "x1" } });
    const table = tableRows(
      (await ok(["auth", "credentials", "get", "bmc-east", "--show-secret"], { tty: true })).stdout,
      "ID",
    );
    expect(table).toEqual([
      {
        ID: "bmc-east",
        NAME: "east BMCs",
        TYPE: "redfish",
        USERNAME: "admin",
        TAGS: "rack=x1,site=east",
        SECRET,
      },
    ]);

    await ok(["auth", "credentials", "delete", "bmc-east"]);
    const gone = await ops.run(["auth", "credentials", "get", "bmc-east"]);
    expect(gone.code).toBe(1);
    expect(gone.stderr).toMatch(/404/);
  });
});

describe("chamicore auth revoke and keys", () => {
  it("revokes a token: using it then fails with 401 and exit code 3", async () => {
    const token = await tokenFor(urlCall(control.url), control.admin.id, control.admin.secret);
    const jti = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString()).jti;
    await ok(["auth", "keys", "list", "--token", token]);

    const revoked = await json(["auth", "revoke", token, "--reason", "e2e"]);
    expect(revoked.spec).toMatchObject({ jti, reason: "e2e" });
    const [refused, listed, notJwt] = await Promise.all([
      ops.run(["auth", "keys", "list", "--token", token]),
      json(["auth", "revocations", "list", "--active"]),
      ops.run(["auth", "revoke", "not-a-token"]),
    ]);
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/HTTP 401/);
    expect(listed.items.map((r: { jti: string }) => r.jti)).toContain(jti);
    expect(notJwt.code).toBe(2);
  });

  it("lists the signing keys and rotates to a new one", async () => {
    const before = await json(["auth", "keys", "list"]);
    const kids: string[] = before.items.map((k: { kid: string }) => k.kid);
    expect(kids.length).toBeGreaterThanOrEqual(1);
    expect(before.items.filter((k: { active: boolean }) => k.active)).toHaveLength(1);

    const rotated = await ok(["auth", "keys", "rotate"], { tty: true });
    const rows = tableRows(rotated.stdout, "KID");
    expect(rows).toHaveLength(kids.length + 1);
    const active = rows.filter((r) => r.ACTIVE === "true");
    expect(active).toHaveLength(1);
    expect(kids).not.toContain(active[0]!.KID);
    expect(rotated.stdout).toContain(`new signing key ${active[0]!.KID}`);
    // The CLI's own token, signed by the previous key, still works.
    await ok(["auth", "keys", "list"]);
  });
});

describe("usage", () => {
  it("a wrong flag is one line and exit code 2", async () => {
    const r = await ops.run(["auth", "credentials", "list", "--colour", "red"]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe("");
    expect(r.stderr.trimEnd().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/Unknown argument: colour/);
  });

  it("every subcommand's help exits 0 with examples", async () => {
    expect(await helpChecked).toEqual([]);
  });
});
