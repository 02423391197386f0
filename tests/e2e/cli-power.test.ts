/**
 * `chamicore power` as an operator runs it: the real bin against a real
 * `chamicore serve`, whose in-process agent powers emulated BMCs. The
 * inventory, the device credential and the BMC endpoints are set up through
 * the API (and one endpoint through `power bmcs`); then on and off with
 * --wait, power status, a dry run that touches no BMC, a stuck BMC failing
 * at a short deadline (exit 4), abort, the wait timeout (exit 1), usage
 * errors (exit 2) and a viewer's token (exit 3). Every claim is checked on
 * the emulators or through the API, not only through what the CLI says.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BmcFleet, startBmcs } from "../support/bmc";
import {
  type CliHome,
  cliAsserts,
  cliHome,
  type Doc,
  loginAsAdmin,
  startTestControl,
  type TestControl,
} from "../support/cli";
import { type Call, tokenFor, urlCall } from "../support/targets";

const bmcId = (i: number) => `x1000c0s${i}b0`;
const nodeId = (i: number) => `${bmcId(i)}n0`;
/** Nodes 0 and 1 are powered on and off; node 2's BMC is made stuck. */
const FLEET = 3;
const RESET = "/Actions/ComputerSystem.Reset";

let control: TestControl;
let fleet: BmcFleet;
let home: CliHome;
let call: Call;
let t: ReturnType<typeof cliAsserts>;

beforeAll(async () => {
  [control, fleet] = await Promise.all([
    startTestControl({ CHAMICORE_POWER_POLL_SECONDS: "0.02" }),
    startBmcs(FLEET, { initialPowerState: "Off", powerDelayMs: 20 }),
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
  const components = Array.from({ length: FLEET }, (_, i) => [
    { id: bmcId(i), type: "NodeBMC", state: "Ready" },
    { id: nodeId(i), type: "Node", parentId: bmcId(i), state: "Off", role: "Compute" },
  ]).flat();
  const imported = await call("POST", "/hsm/v2/import", { body: { components } });
  expect(imported.status, imported.text).toBe(201);
  for (let i = 1; i < FLEET; i++) {
    const made = await call("POST", "/power/v1/bmcs", {
      body: { id: bmcId(i), address: fleet.urls[i], credentialId: "bmc-cred" },
    });
    expect(made.status, made.text).toBe(201);
  }
}, 60_000);

afterAll(async () => {
  home?.cleanup();
  await control?.stop();
  await fleet?.close();
});

const resetsOf = (i: number) => fleet.bmcs[i]!.requests.filter((r) => r.path.endsWith(RESET)).length;

describe("power bmcs", () => {
  it("creates, lists, gets, updates and deletes BMC endpoints", async () => {
    const made = await t.json([
      "power",
      "bmcs",
      "create",
      "--id",
      bmcId(0),
      "--address",
      fleet.urls[0]!,
      "--credential",
      "bmc-cred",
    ]);
    expect(made).toMatchObject({
      kind: "BmcEndpoint",
      spec: { id: bmcId(0), address: fleet.urls[0], credentialId: "bmc-cred", auth: "basic", site: null },
    });
    const list = await t.json(["power", "bmcs", "list"]);
    expect(t.ids(list)).toEqual([bmcId(0), bmcId(1), bmcId(2)]);
    const updated = await t.json(["power", "bmcs", "update", bmcId(0), "--auth", "session"]);
    expect(updated.spec.auth).toBe("session");
    expect((await t.json(["power", "bmcs", "get", bmcId(0)])).spec.auth).toBe("session");
    await t.ok(["power", "bmcs", "update", bmcId(0), "--set", "auth=null"]);

    // A spare endpoint on a NodeBMC without nodes, deleted again.
    await call("POST", "/hsm/v2/State/Components", { body: { id: "x1000c1s0b0", type: "NodeBMC" } });
    await t.ok([
      "power",
      "bmcs",
      "create",
      "--id",
      "x1000c1s0b0",
      "--address",
      "10.0.0.9",
      "--credential",
      "bmc-cred",
    ]);
    const del = await t.ok(["power", "bmcs", "delete", "x1000c1s0b0"]);
    expect(del.stderr).toContain("deleted x1000c1s0b0");
    expect((await call("GET", "/power/v1/bmcs/x1000c1s0b0")).status).toBe(404);
    const dup = await t.fails(1, [
      "power",
      "bmcs",
      "create",
      "--id",
      bmcId(0),
      "--address",
      "10.0.0.1",
      "--credential",
      "bmc-cred",
    ]);
    expect(dup).toContain("409");
  });
});

describe("power on, off and status", () => {
  it("powers two nodes on with --wait: exit 0, results printed, the BMCs are on", async () => {
    const r = await t.ok([
      "power",
      "on",
      nodeId(0),
      nodeId(1),
      "--wait",
      "--deadline-minutes",
      "0.5",
      "-o",
      "json",
    ]);
    const doc: Doc = JSON.parse(r.stdout);
    expect(doc.spec).toMatchObject({
      operation: "on",
      state: "completed",
      taskDeadlineMinutes: 0.5,
      taskCounts: { total: 2, succeeded: 2 },
    });
    expect(doc.spec.tasks.map((k: Doc) => [k.xname, k.state, k.powerState, k.message])).toEqual([
      [nodeId(0), "succeeded", "On", "On: On"],
      [nodeId(1), "succeeded", "On", "On: On"],
    ]);
    // In a pipe, one progress line per change on stderr, ending with the final state.
    const lines = r.stderr.trim().split("\n");
    expect(lines[0]).toMatch(new RegExp(`^transition ${doc.spec.id}: on of 2 node`));
    expect(lines.at(-1)).toBe(`${doc.spec.id}: 2/2 done (completed)`);
    expect(fleet.bmcs[0]!.powerState()).toBe("On");
    expect(fleet.bmcs[1]!.powerState()).toBe("On");
    expect(fleet.bmcs[2]!.powerState()).toBe("Off");
  });

  it("shows the new states in power status, filtered by state", async () => {
    const all = await t.json(["power", "status"]);
    const states = Object.fromEntries(all.items.map((s: Doc) => [s.xname, s.powerState]));
    expect(states).toEqual({ [nodeId(0)]: "on", [nodeId(1)]: "on", [nodeId(2)]: "off" });
    const on = await t.json(["power", "status", "--state", "on"]);
    expect(on.items.map((s: Doc) => s.xname)).toEqual([nodeId(0), nodeId(1)]);
    expect(on.items[0]).toMatchObject({ source: "task", bmcId: bmcId(0), lastTask: { operation: "on" } });
    const table = await t.table(["power", "status", nodeId(1)]);
    expect(table.header).toEqual(["XNAME", "POWER", "SOURCE", "INVENTORY", "BMC", "MANAGEMENT", "LAST TASK"]);
    expect(table.rows).toEqual([[nodeId(1), "on", "task", "On", bmcId(1), "available", "on succeeded"]]);
  });

  it("powers them off with --wait on a terminal: progress in place, then a table of results", async () => {
    const r = await t.ok(["power", "off", nodeId(0), nodeId(1), "--wait"], { tty: true });
    expect(r.stdout).toMatch(/\r2\/2 done \(completed\)/);
    expect(r.stdout).toMatch(/transition [0-9a-f-]{36}: off, completed, 2\/2 done/);
    expect(r.stdout).toMatch(new RegExp(`${nodeId(0)}\\s+${bmcId(0)}\\s+succeeded\\s+Off\\s+ForceOff: Off`));
    expect(fleet.bmcs[0]!.powerState()).toBe("Off");
    expect(fleet.bmcs[1]!.powerState()).toBe("Off");
    const status = await t.json(["power", "status", nodeId(0), nodeId(1)]);
    expect(status.items.map((s: Doc) => s.powerState)).toEqual(["off", "off"]);
  });

  it("does a dry run without touching any BMC", async () => {
    const before = fleet.bmcs.map((b) => b.requests.length);
    const resets = [0, 1].map(resetsOf);
    const doc = await t.json(["power", "reset", nodeId(0), nodeId(1), "--dry-run"]);
    expect(doc.spec).toMatchObject({ operation: "hard-restart", dryRun: true, state: "completed" });
    expect(doc.spec.taskCounts).toMatchObject({ total: 2, planned: 2 });
    expect(doc.spec.tasks[0].message).toBe(
      `would run hard-restart through BMC ${bmcId(0)} at ${fleet.urls[0]}`,
    );
    await new Promise((r) => setTimeout(r, 300));
    expect(fleet.bmcs.map((b) => b.requests.length)).toEqual(before);
    expect([0, 1].map(resetsOf)).toEqual(resets);
  });
});

describe("power transition", () => {
  it("lists and gets transitions", async () => {
    const list = await t.json(["power", "transition", "list", "--state", "completed", "--operation", "on"]);
    expect(list.items).toHaveLength(1);
    expect(list.items[0].spec).toMatchObject({ operation: "on", taskCounts: { succeeded: 2 } });
    const id = list.items[0].metadata.id;
    const got = await t.yaml(["power", "transition", "get", id]);
    expect(got.spec.tasks.map((k: Doc) => k.xname)).toEqual([nodeId(0), nodeId(1)]);
    const dry = await t.json(["power", "transitions", "list", "--dry-run"]);
    expect(dry.items.map((i: Doc) => i.spec.operation)).toEqual(["hard-restart"]);
  });

  it("waits for a transition whose BMC is stuck: exit 4, the failed node named with its reason", async () => {
    fleet.bmcs[2]!.setFaults({ stuck: true });
    try {
      const started = await t.json(["power", "on", nodeId(2), nodeId(0), "--deadline-minutes", "0.02"]);
      const id = started.spec.id;
      expect(started.spec.tasks.map((k: Doc) => k.xname)).toEqual([nodeId(2), nodeId(0)]);
      const r = await home.run(["power", "transition", "wait", id, "-o", "json"]);
      expect(r.code, r.stderr).toBe(4);
      const doc: Doc = JSON.parse(r.stdout);
      expect(doc.spec.taskCounts).toMatchObject({ total: 2, succeeded: 1, failed: 1 });
      const failed = doc.spec.tasks.find((k: Doc) => k.xname === nodeId(2));
      expect(failed).toMatchObject({ state: "failed", powerState: "Off" });
      expect(failed.message).toBe("did not reach On within 1.2 s (last PowerState: Off)");
      expect(r.stderr).toContain(
        `${nodeId(2)}: failed: did not reach On within 1.2 s (last PowerState: Off)`,
      );
      expect(fleet.bmcs[2]!.powerState()).toBe("Off");
      expect(fleet.bmcs[0]!.powerState()).toBe("On");
    } finally {
      fleet.bmcs[2]!.setFaults({});
    }
  });

  it("gives up waiting at --timeout (exit 1), aborts, and then waits to exit 4", async () => {
    fleet.bmcs[2]!.setFaults({ stuck: true });
    try {
      const started = await t.json(["power", "on", nodeId(2), "--deadline-minutes", "1"]);
      const id = started.spec.id;
      const timedOut = await t.fails(1, ["power", "transition", "wait", id, "--timeout", "0.5"]);
      expect(timedOut).toContain(`timed out after 0.5 s: transition ${id} is still`);
      expect(timedOut).toContain(`chamicore power transition abort ${id}`);
      const aborted = await t.json(["power", "transition", "abort", id]);
      expect(["abort-signaled", "aborted"]).toContain(aborted.spec.state);
      const r = await home.run(["power", "transition", "wait", id, "-o", "json"]);
      expect(r.code, r.stderr).toBe(4);
      const doc: Doc = JSON.parse(r.stdout);
      expect(doc.spec.state).toBe("aborted");
      expect(doc.spec.tasks[0].state).toBe("aborted");
      expect(r.stderr).toContain(`${nodeId(2)}: aborted: aborted`);
      // Aborting a final transition is refused by the API.
      expect(await t.fails(1, ["power", "transition", "abort", id])).toContain("409");
    } finally {
      fleet.bmcs[2]!.setFaults({});
    }
  });
});

describe("errors", () => {
  it("exits 2 on wrong usage, before anything is sent", async () => {
    const before = fleet.bmcs.map((b) => b.requests.length);
    expect(await t.fails(2, ["power", "on"])).toContain("say which nodes");
    expect(await t.fails(2, ["power", "off", nodeId(0), "--deadline-minutes", "soon"])).toContain(
      "--deadline-minutes",
    );
    expect(await t.fails(2, ["power", "status", "--state", "sideways"])).toContain("Invalid values");
    expect(await t.fails(2, ["power", "transition", "wait"])).toContain("Not enough non-option arguments");
    expect(await t.fails(2, ["power", "explode", nodeId(0)])).toMatch(/Unknown argument|Unknown command/i);
    expect(fleet.bmcs.map((b) => b.requests.length)).toEqual(before);
  });

  it("exits 1 for nodes the API refuses", async () => {
    expect(await t.fails(1, ["power", "on", "x9999c0s0b0n0"])).toContain("x9999c0s0b0n0");
  });

  it("gives a viewer's token exit 3 on power on, and lets it read", async () => {
    const sa = await call("POST", "/auth/v1/service-accounts", {
      body: { id: "watcher", roles: ["viewer"] },
    });
    expect(sa.status, sa.text).toBe(201);
    const token = await tokenFor(urlCall(control.url), "watcher", sa.json.spec.clientSecret);
    const as = ["--endpoint", control.url, "--token", token];
    const resets = resetsOf(0);
    const denied = await t.fails(3, ["power", "on", nodeId(0), ...as]);
    expect(denied).toContain("HTTP 403");
    expect(resetsOf(0)).toBe(resets);
    await t.ok(["power", "status", ...as]);
  });
});
