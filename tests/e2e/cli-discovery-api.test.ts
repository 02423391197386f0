/**
 * `chamicore discovery target|scans` and `discovery scan --target` as an
 * operator runs them: the real bin against a real `chamicore serve` on a
 * throwaway Postgres database, whose in-process agent scans emulated BMCs
 * (DMTF mockups). Targets are made, read, changed (under their ETag) and
 * deleted through the CLI; a scan with --wait fills the inventory (checked
 * through the CLI and the API); a BMC refusing the credential makes exit 4
 * and is named; dry runs write nothing; scans are listed, read, cancelled
 * and waited for; wrong usage is exit 2 before anything is sent.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmulatedBmc, startBmc } from "../support/bmc";
import {
  type CliHome,
  cliAsserts,
  cliHome,
  type Doc,
  loginAsAdmin,
  startTestControl,
  type TestControl,
} from "../support/cli";
import { createTestDatabase, type TestDatabase } from "../support/postgres";
import { type Call, urlCall } from "../support/targets";

const TG = "/discovery/v1/targets";
const S = "/discovery/v1/scans";
const C = "/hsm/v2/State/Components";
/** The rack target's two BMCs, named by their position in its address list. */
const RACK_RULE = "x{index+3000}c0s0b0";

let db: TestDatabase;
let control: TestControl;
let home: CliHome;
let call: Call;
let t: ReturnType<typeof cliAsserts>;
/** rackmount1 and tower: the rack target. */
let rack: EmulatedBmc;
let tower: EmulatedBmc;
/** bladed: the dry run, then the good half of the mixed target. */
let blades: EmulatedBmc;
/** A BMC whose password is not the credential's. */
let refusing: EmulatedBmc;

beforeAll(async () => {
  db = await createTestDatabase("cli_discovery");
  const opts = { username: "admin", password: "password" };
  [control, rack, tower, blades, refusing] = await Promise.all([
    startTestControl({ DATABASE_URL: db.url }),
    startBmc({ ...opts, mockup: "public-rackmount1" }),
    startBmc({ ...opts, mockup: "public-tower" }),
    startBmc({ ...opts, mockup: "public-bladed" }),
    startBmc({ ...opts, password: "not-the-credential", mockup: "public-rackmount1" }),
  ]);
  home = cliHome();
  t = cliAsserts(home);
  const raw = urlCall(control.url);
  call = (method, path, init = {}) => raw(method, path, { token: control.adminToken, ...init });
  const login = await loginAsAdmin(home, control);
  expect(login.code, login.stderr).toBe(0);
  const cred = await call("POST", "/auth/v1/credentials", {
    body: { id: "bmc-cred", name: "BMCs", type: "redfish", username: "admin", secret: "password" },
  });
  expect(cred.status, cred.text).toBe(201);
}, 90_000);

afterAll(async () => {
  home?.cleanup();
  await control?.stop();
  for (const b of [rack, tower, blades, refusing]) await b?.close();
  await db?.drop();
});

const scanCount = async () => (await call("GET", S)).json.metadata.total as number;

describe("discovery target", () => {
  it("creates, lists, gets, updates under its ETag and deletes targets", async () => {
    const made = await t.json([
      "discovery",
      "target",
      "create",
      "--id",
      "rack",
      "--name",
      "Rack 3000",
      "--address",
      rack.url,
      "--address",
      tower.url,
      "--credential",
      "bmc-cred",
      "--rule",
      RACK_RULE,
    ]);
    expect(made).toMatchObject({
      kind: "DiscoveryTarget",
      spec: {
        id: "rack",
        name: "Rack 3000",
        addresses: [rack.url, tower.url],
        credentialId: "bmc-cred",
        driver: "redfish",
        site: null,
        options: { auth: "basic", insecure: false, naming: { rule: RACK_RULE } },
      },
    });
    // A second one from a YAML file on stdin, with a map, a site and a last-octet range.
    const yaml = [
      "id: east",
      "credentialId: bmc-cred",
      "site: east",
      "addresses: [10.9.0.1]",
      "options: {naming: {map: {10.9.0.1: x9000c0s0b0}}}",
    ].join("\n");
    const east = await t.json(
      ["discovery", "target", "create", "--file", "-", "--address", "10.9.0.1-3", "--insecure"],
      { input: yaml },
    );
    expect(east.spec).toMatchObject({
      id: "east",
      site: "east",
      addresses: ["https://10.9.0.1", "https://10.9.0.2", "https://10.9.0.3"],
      options: { insecure: true, naming: { map: { "10.9.0.1": "x9000c0s0b0" } } },
    });

    const table = await t.table(["discovery", "target", "list"]);
    expect(table.header).toEqual([
      "ID",
      "NAME",
      "ADDRESSES",
      "CREDENTIAL",
      "SITE",
      "AUTH",
      "INSECURE",
      "NAMING",
      "SCHEDULE",
    ]);
    expect(table.rows).toEqual([
      [
        "east",
        "https://10.9.0.1,https://10.9.0.2,https://10.9.0.3",
        "bmc-cred",
        "east",
        "basic",
        "true",
        "1 mapped",
      ],
      ["rack", "Rack 3000", `${rack.url},${tower.url}`, "bmc-cred", "basic", "false", RACK_RULE],
    ]);
    expect(t.ids(await t.json(["discovery", "target", "list", "--site", "east"]))).toEqual(["east"]);
    expect((await t.yaml(["discovery", "targets", "get", "rack"])).spec.name).toBe("Rack 3000");

    // update: a PUT replaces a target only under If-Match (428 without); the CLI sends the flags
    // as one merge patch instead, which the control plane applies to the target as it is.
    const bare = await call("PUT", `${TG}/east`, {
      body: { addresses: ["10.9.0.1"], credentialId: "bmc-cred" },
    });
    expect(bare.status).toBe(428);
    const before = (await call("GET", `${TG}/east`)).headers.get("etag");
    const updated = await t.json([
      "discovery",
      "target",
      "update",
      "east",
      "--auth",
      "session",
      "--map",
      "10.9.0.2=x9000c0s1b0",
      "--set",
      "site=null",
    ]);
    expect(updated.spec).toMatchObject({
      site: null,
      addresses: ["https://10.9.0.1", "https://10.9.0.2", "https://10.9.0.3"],
      options: {
        auth: "session",
        insecure: true,
        naming: { map: { "10.9.0.1": "x9000c0s0b0", "10.9.0.2": "x9000c0s1b0" } },
      },
    });
    const after = await call("GET", `${TG}/east`);
    expect(after.headers.get("etag")).not.toBe(before);
    expect(after.json.spec.options.auth).toBe("session");

    const del = await t.ok(["discovery", "target", "delete", "east"]);
    expect(del.stderr).toContain("deleted east");
    expect((await call("GET", `${TG}/east`)).status).toBe(404);
    expect(await t.fails(1, ["discovery", "target", "get", "east"])).toContain("404");
    expect(
      await t.fails(1, [
        "discovery",
        "target",
        "create",
        "--id",
        "rack",
        "--address",
        "10.0.0.1",
        "--credential",
        "bmc-cred",
      ]),
    ).toContain("409");
  });

  it("dry runs print the document and send nothing", async () => {
    const created = await t.ok([
      "discovery",
      "target",
      "create",
      "--id",
      "ghost",
      "--address",
      "10.8.0.1",
      "--credential",
      "bmc-cred",
      "--dry-run",
      "-o",
      "json",
    ]);
    expect(JSON.parse(created.stdout)).toEqual({
      id: "ghost",
      addresses: ["10.8.0.1"],
      credentialId: "bmc-cred",
    });
    expect(created.stderr).toContain("nothing was sent");
    expect((await call("GET", `${TG}/ghost`)).status).toBe(404);

    const etag = (await call("GET", `${TG}/rack`)).headers.get("etag");
    const update = await t.ok([
      "discovery",
      "target",
      "update",
      "rack",
      "--name",
      "Renamed",
      "--schedule",
      "60",
      "--dry-run",
      "-o",
      "json",
    ]);
    const doc = JSON.parse(update.stdout);
    expect(doc).toMatchObject({
      id: "rack",
      name: "Renamed",
      addresses: [rack.url, tower.url],
      schedule: { everyMinutes: 60 },
    });
    expect(update.stderr).toContain(`If-Match: ${etag}`);
    const now = await call("GET", `${TG}/rack`);
    expect(now.json.spec.name).toBe("Rack 3000");
    expect(now.headers.get("etag")).toBe(etag);
  });
});

describe("discovery scan --target", () => {
  it("scans two BMCs with --wait: exit 0, progress on stderr, the components in the inventory", async () => {
    const r = await t.ok(["discovery", "scan", "--target", "rack", "--wait", "-o", "json"], {
      timeoutMs: 60_000,
    });
    const doc: Doc = JSON.parse(r.stdout);
    expect(doc.spec).toMatchObject({ state: "completed", dryRun: false, targetIds: ["rack"] });
    expect(doc.spec.results.map((x: Doc) => [x.address, x.state, x.bmcId, x.bmcEndpoint])).toEqual([
      [rack.url, "ok", "x3000c0s0b0", "created"],
      [tower.url, "ok", "x3001c0s0b0", "created"],
    ]);
    expect(doc.spec.results[0].created).toEqual(expect.arrayContaining(["x3000c0s0b0", "x3000c0s0b0n0"]));
    // In a pipe: the scan, then a line per change, ending with every address done.
    const lines = r.stderr.trim().split("\n");
    expect(lines[0]).toBe(`scan ${doc.spec.id}: targets rack`);
    expect(lines).toContain(`${doc.spec.id}: 2/2 addresses done (completed)`);

    // The inventory has them, as the CLI and the API show; the BMCs are power endpoints.
    const node = await t.json(["smd", "components", "get", "x3001c0s0b0n0"]);
    expect(node.spec).toMatchObject({ type: "Node", parentId: "x3001c0s0b0" });
    expect((await call("GET", `${C}/x3000c0s0b0n0`)).status).toBe(200);
    const bmcs = await t.json(["power", "bmcs", "list"]);
    expect(t.ids(bmcs)).toEqual(["x3000c0s0b0", "x3001c0s0b0"]);
  });

  it("shows the results as a table on a terminal, and again with scans get", async () => {
    const r = await t.ok(["discovery", "scan", "--target", "rack", "--wait"], {
      tty: true,
      timeoutMs: 60_000,
    });
    // Progress in place, then a line about the scan and a row per address (a re-scan changes nothing).
    expect(r.stdout).toMatch(/\r2\/2 addresses done \(completed\)/);
    expect(r.stdout).toMatch(/scan [0-9a-f-]{36}: completed, targets rack, 2\/2 addresses done/);
    expect(r.stdout).toMatch(new RegExp(`rack\\s+${rack.url}\\s+ok\\s+x3000c0s0b0\\s+`));
    const id = /scan ([0-9a-f-]{36})/.exec(r.stdout)![1]!;
    const got = await t.ok(["discovery", "scans", "get", id], { tty: true });
    const rows = got.stdout.split("\n").filter((l) => l.startsWith("rack "));
    expect(rows).toHaveLength(2);
    expect(rows[1]).toMatch(new RegExp(`^rack\\s+${tower.url}\\s+ok\\s+x3001c0s0b0\\s+\\d+\\s+unchanged$`));
  });

  it("dry run: scans the BMC and reports what it would create, writing nothing", async () => {
    await t.ok([
      "discovery",
      "target",
      "create",
      "--id",
      "spare",
      "--address",
      blades.url,
      "--credential",
      "bmc-cred",
      "--rule",
      "x3100c0s{index}b0",
    ]);
    const components = (await call("GET", C)).json.metadata.total;
    const r = await t.ok(["discovery", "scan", "--target", "spare", "--dry-run", "--wait", "-o", "json"], {
      timeoutMs: 60_000,
    });
    const doc: Doc = JSON.parse(r.stdout);
    expect(doc.spec).toMatchObject({ state: "completed", dryRun: true });
    expect(doc.spec.results[0].created).toContain("x3100c0s0b0");
    expect(blades.requests.length).toBeGreaterThan(0);
    expect((await call("GET", `${C}/x3100c0s0b0`)).status).toBe(404);
    expect((await call("GET", C)).json.metadata.total).toBe(components);
    expect((await call("GET", "/power/v1/bmcs/x3100c0s0b0")).status).toBe(404);
  });

  it("exits 4 when one BMC refuses the credential, naming it; the other address is merged", async () => {
    await t.ok([
      "discovery",
      "target",
      "create",
      "--id",
      "mixed",
      "--address",
      refusing.url,
      "--address",
      blades.url,
      "--credential",
      "bmc-cred",
      "--rule",
      "x{index+3200}c0s0b0",
    ]);
    const r = await home.run(["discovery", "scan", "--target", "mixed", "--wait", "-o", "json"]);
    expect(r.code, r.stderr).toBe(4);
    const doc: Doc = JSON.parse(r.stdout);
    expect(doc.spec.state).toBe("completed");
    expect(doc.spec.results.map((x: Doc) => [x.address, x.state])).toEqual([
      [refusing.url, "failed"],
      [blades.url, "ok"],
    ]);
    expect(r.stderr).toMatch(
      new RegExp(
        `^${refusing.url} \\(target mixed\\): failed: .*refused the credential 'bmc-cred'.*401`,
        "m",
      ),
    );
    expect(r.stderr).not.toMatch(new RegExp(`^${blades.url} \\(target mixed\\)`, "m"));
    expect((await call("GET", `${C}/x3201c0s0b0`)).status).toBe(200);
    expect((await call("GET", `${C}/x3200c0s0b0`)).status).toBe(404);
  });
});

describe("discovery scans", () => {
  it("starts a scan without --wait, lists scans by their filters, and waits for one", async () => {
    const started = await t.ok(["discovery", "scan", "--target", "rack", "-o", "json"]);
    const id = JSON.parse(started.stdout).spec.id;
    expect(started.stderr).toContain(`follow it with: chamicore discovery scans wait ${id}`);
    const waited = await t.ok(["discovery", "scans", "wait", id, "-o", "json"], { timeoutMs: 60_000 });
    expect(JSON.parse(waited.stdout).spec.state).toBe("completed");

    const dry = await t.json(["discovery", "scans", "list", "--dry-run"]);
    expect(dry.items.map((i: Doc) => i.spec.targetIds)).toEqual([["spare"]]);
    const real = await t.json(["discovery", "scans", "list", "--no-dry-run", "--state", "completed"]);
    // Newest first: this one, mixed, and the rack's two.
    expect(real.items.map((i: Doc) => i.spec.targetIds[0])).toEqual(["rack", "mixed", "rack", "rack"]);
    expect(t.ids(real)[0]).toBe(id);
    const table = await t.table(["discovery", "scans", "list", "--limit", "1"]);
    expect(table.header).toEqual(["ID", "STATE", "DRY-RUN", "TARGETS", "SITE", "BY", "CREATED", "MESSAGE"]);
    expect(table.rows[0]!.slice(0, 4)).toEqual([id, "completed", "false", "rack"]);
  });

  it("cancels a scan that has not started; waiting for it then exits 4; a second cancel is refused", async () => {
    // A target with a site is scanned by that site's edge, which is not running: the scan stays new.
    await t.ok([
      "discovery",
      "target",
      "create",
      "--id",
      "far",
      "--address",
      "10.7.0.1",
      "--credential",
      "bmc-cred",
      "--site",
      "far",
    ]);
    const started = await t.json(["discovery", "scan", "--target", "far"]);
    expect(started.spec).toMatchObject({ state: "new", site: "far" });
    const id = started.spec.id;
    const timedOut = await t.fails(1, ["discovery", "scans", "wait", id, "--timeout", "0.5"]);
    expect(timedOut).toContain(`timed out after 0.5 s: scan ${id} is still new (0/1 addresses done)`);
    expect(timedOut).toContain(`chamicore discovery scans cancel ${id}`);

    const cancelled = await t.json(["discovery", "scans", "cancel", id]);
    expect(cancelled.spec.state).toBe("cancelled");
    expect((await call("GET", `${S}/${id}`)).json.spec.state).toBe("cancelled");
    const r = await home.run(["discovery", "scans", "wait", id]);
    expect(r.code, r.stderr).toBe(4);
    expect(r.stderr).toContain(`scan ${id} cancelled`);
    expect(await t.fails(1, ["discovery", "scans", "cancel", id])).toContain("409");
    expect(await t.fails(1, ["discovery", "scans", "get", "no-such-scan"])).toContain("404");
  });
});

describe("errors and help", () => {
  it("exits 2 on wrong usage with one line, before anything is sent", async () => {
    const scans = await scanCount();
    const requests = [rack, tower].map((b) => b.requests.length);
    for (const [args, says] of [
      [["discovery", "scan"], "say what to scan"],
      [["discovery", "scan", rack.url, "--target", "rack"], "not both"],
      [
        ["discovery", "scan", "--target", "rack", "--map", "127.0.0.1=x1c0s0b0"],
        "--map is for a standalone scan",
      ],
      [["discovery", "scan", rack.url, "--wait"], "--wait goes with --target"],
      [
        ["discovery", "scan", "--target", "rack", "--wait", "--timeout", "soon"],
        "--timeout takes a positive number",
      ],
      [
        ["discovery", "target", "create", "--id", "never", "--address", "10.0.0.1"],
        "a target needs --credential",
      ],
      [["discovery", "target", "update", "rack"], "nothing to change"],
      [["discovery", "target", "update", "rack", "--map", "nonsense"], "say ADDRESS=XNAME"],
      [["discovery", "scans", "wait"], "Not enough non-option arguments"],
      [["discovery", "scans", "list", "--bogus"], "Unknown argument"],
    ] as [string[], string][]) {
      const r = await home.run(args);
      expect(r.code, `${args.join(" ")}\n${r.stderr}`).toBe(2);
      expect(r.stderr).toContain(says);
      expect(r.stderr.trim().split("\n"), args.join(" ")).toHaveLength(1);
    }
    expect(await scanCount()).toBe(scans);
    expect([rack, tower].map((b) => b.requests.length)).toEqual(requests);
    expect((await call("GET", `${TG}/never`)).status).toBe(404);
  });

  it("exits 1 for a target the API does not have, and for a range the API refuses", async () => {
    expect(await t.fails(1, ["discovery", "scan", "--target", "nowhere"])).toMatch(/422[\s\S]*nowhere/);
    const range = await t.fails(1, [
      "discovery",
      "target",
      "create",
      "--id",
      "never",
      "--address",
      "10.0.0.9-2",
      "--credential",
      "bmc-cred",
    ]);
    expect(range).toMatch(/422[\s\S]*addresses\[0\][\s\S]*X ≤ Y/);
    expect((await call("GET", `${TG}/never`)).status).toBe(404);
  });

  it("renders help with examples for every new subcommand", async () => {
    for (const path of [
      ["discovery"],
      ["discovery", "scan"],
      ["discovery", "target"],
      ["discovery", "target", "list"],
      ["discovery", "target", "get"],
      ["discovery", "target", "create"],
      ["discovery", "target", "update"],
      ["discovery", "target", "delete"],
      ["discovery", "scans"],
      ["discovery", "scans", "list"],
      ["discovery", "scans", "get"],
      ["discovery", "scans", "cancel"],
      ["discovery", "scans", "wait"],
    ]) {
      const r = await home.run([...path, "--help"]);
      expect(r.code, path.join(" ")).toBe(0);
      expect(r.stdout, path.join(" ")).toContain("\nExamples:\n");
    }
  });
});
