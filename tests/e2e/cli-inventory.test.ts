/**
 * `chamicore smd …` as an operator runs it: the real bin in a child process
 * against a real control plane, logged in as the bootstrap admin. Each
 * resource makes a round trip (create, get, list with a filter, update,
 * delete) and what the API then holds is read back through the CLI; every
 * output format is parsed back; errors give the documented exit codes; and
 * every subcommand's --help has examples.
 */

import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { type ApiClient, createClient, unwrap } from "../../shared/client";
import {
  type CliHome,
  cliAsserts,
  cliHome,
  loginAsAdmin,
  startTestControl,
  type TestControl,
} from "../support/cli";

let control: TestControl;
let home: CliHome;
/** The API itself, for setting up around the CLI. */
let api: ApiClient;

beforeAll(async () => {
  control = await startTestControl();
  api = createClient({ endpoint: control.url, token: () => control.adminToken });
  const login = await loginAsAdmin(home, control);
  expect(login.code, login.stderr).toBe(0);
});

afterAll(async () => {
  await control?.stop();
  home?.cleanup();
});

home = cliHome();
const { ok, json, yaml, piped, ids, table, fails, helpWithExamples } = cliAsserts(home);

describe("chamicore smd components", () => {
  it("create, get, list with filters, update and delete round-trip through the API", async () => {
    const created = await json([
      "smd",
      "components",
      "create",
      "--id",
      "x1000c0s0b0n0",
      "--role",
      "Compute",
      "--nid",
      "1",
      "--arch",
      "X86",
    ]);
    expect(created.kind).toBe("Component");
    // The xname implies the type and the rack.
    expect(created.spec).toMatchObject({
      id: "x1000c0s0b0n0",
      type: "Node",
      role: "Compute",
      nid: 1,
      rack: "x1000",
    });

    const other = await yaml([
      "smd",
      "components",
      "create",
      "--type",
      "Node",
      "--nid",
      "2",
      "--no-enabled",
      "--set",
      "rack=r7",
    ]);
    const otherId = other.metadata.id as string;
    expect(otherId).toMatch(/^node-[0-9a-f]{8}$/);
    expect(other.spec).toMatchObject({ type: "Node", nid: 2, enabled: false, rack: "r7", role: null });

    expect((await piped(["smd", "components", "get", "x1000c0s0b0n0"])).spec.arch).toBe("X86");

    expect(ids(await json(["smd", "components", "list", "--role", "Compute"]))).toEqual(["x1000c0s0b0n0"]);
    expect(ids(await json(["smd", "components", "list", "--no-enabled"]))).toEqual([otherId]);
    const sorted = await json(["smd", "components", "list", "--nid", "1,2", "--sort=-nid", "--limit", "1"]);
    expect(ids(sorted)).toEqual([otherId]);
    expect(sorted.metadata.total).toBe(2);

    const t = await table(["smd", "components", "list", "--type", "Node"]);
    expect(t.header).toEqual(["ID", "TYPE", "ROLE", "NID", "STATE", "ENABLED", "ARCH"]);
    expect(t.rows).toContainEqual(["x1000c0s0b0n0", "Node", "Compute", "1", "Empty", "true", "X86"]);

    await ok([
      "smd",
      "components",
      "update",
      "x1000c0s0b0n0",
      "--state",
      "Ready",
      "--sub-role",
      "Worker",
      "--set",
      "nid=null",
    ]);
    const updated = await json(["smd", "components", "get", "x1000c0s0b0n0"]);
    expect(updated.spec).toMatchObject({ state: "Ready", subRole: "Worker", nid: null, role: "Compute" });

    const deleted = await ok(["smd", "components", "delete", otherId]);
    expect(deleted.stderr).toContain(`deleted ${otherId}`);
    expect(await fails(1, ["smd", "components", "get", otherId])).toMatch(/HTTP 404/);
  });

  it("reports the API's refusals and usage errors with their exit codes", async () => {
    const invalid = await fails(1, ["smd", "components", "create", "--id", "bad id!", "--type", "Node"]);
    expect(invalid).toMatch(/HTTP 422 Validation failed/);
    expect(invalid).toMatch(/^\s+id: must be/m);

    expect(await fails(1, ["smd", "components", "get", "x9999c0s0b0n0"])).toMatch(
      /HTTP 404 Not found.*x9999c0s0b0n0/,
    );

    const flag = await fails(2, ["smd", "components", "list", "--bogus", "1"]);
    expect(flag.trim().split("\n")).toHaveLength(1);
    expect(flag).toMatch(/bogus/);

    expect(await fails(2, ["smd", "components", "create", "--nid", "one"])).toMatch(/--nid takes a number/);

    expect(await fails(2, ["smd", "components", "update", "x1000c0s0b0n0"])).toMatch(/nothing to change/);
  });
});

describe("chamicore smd interfaces", () => {
  it("create, get, list by MAC and IP, update and delete", async () => {
    const created = parseYaml(
      (
        await ok([
          "smd",
          "interfaces",
          "create",
          "--component",
          "x1000c0s0b0n0",
          "--mac",
          "A4-BF-01-38-EE-65",
          "--ip",
          "10.1.0.17@mgmt",
          "--ip",
          "fd00::17",
          "--description",
          "port 1",
          "-o",
          "yaml",
        ])
      ).stdout,
    );
    expect(created.metadata.id).toBe("a4bf0138ee65");
    expect(created.spec).toMatchObject({
      componentId: "x1000c0s0b0n0",
      macAddress: "a4:bf:01:38:ee:65",
      description: "port 1",
    });
    expect(created.spec.ipAddresses).toEqual([
      { ipAddress: "10.1.0.17", network: "mgmt" },
      { ipAddress: "fd00::17", network: null },
    ]);

    expect((await piped(["smd", "interfaces", "get", "a4bf0138ee65"])).spec.macAddress).toBe(
      "a4:bf:01:38:ee:65",
    );
    expect(ids(await json(["smd", "interfaces", "list", "--mac", "A4:BF:01:38:EE:65"]))).toEqual([
      "a4bf0138ee65",
    ]);
    expect(ids(await json(["smd", "interfaces", "list", "--ip", "10.1.0.17"]))).toEqual(["a4bf0138ee65"]);

    const t = await table(["smd", "interfaces", "list", "--component", "x1000c0s0b0n0"]);
    expect(t.header).toEqual(["ID", "COMPONENT", "MAC", "IPS", "DESCRIPTION"]);
    expect(t.rows).toEqual([
      ["a4bf0138ee65", "x1000c0s0b0n0", "a4:bf:01:38:ee:65", "10.1.0.17,fd00::17", "port 1"],
    ]);

    await ok(["smd", "interfaces", "update", "a4bf0138ee65", "--ip", "10.1.0.18"]);
    const updated = await json(["smd", "interfaces", "get", "a4bf0138ee65"]);
    expect(updated.spec.ipAddresses).toEqual([{ ipAddress: "10.1.0.18", network: null }]);
    expect(updated.spec.description).toBe("port 1");

    await ok(["smd", "interfaces", "delete", "a4bf0138ee65"]);
    expect((await json(["smd", "interfaces", "list", "--component", "x1000c0s0b0n0"])).items).toEqual([]);

    const bad = await fails(1, [
      "smd",
      "interfaces",
      "create",
      "--component",
      "x1000c0s0b0n0",
      "--mac",
      "zz",
    ]);
    expect(bad).toMatch(/HTTP 422/);
    expect(bad).toMatch(/macAddress: must be/);
  });
});

describe("chamicore smd groups and partitions", () => {
  it("groups: create, members added and removed, list by member, update, delete", async () => {
    await unwrap(api.POST("/hsm/v2/State/Components", { body: { id: "x1000c0s0b1n0", role: "Compute" } }));

    const created = await json([
      "smd",
      "groups",
      "create",
      "--name",
      "compute",
      "--tag",
      "hpc",
      "--member",
      "x1000c0s0b0n0",
    ]);
    expect(created.spec).toEqual({
      name: "compute",
      description: "",
      tags: ["hpc"],
      members: ["x1000c0s0b0n0"],
    });

    const added = await json(["smd", "groups", "add-member", "compute", "x1000c0s0b1n0"]);
    expect(added.spec.members.sort()).toEqual(["x1000c0s0b0n0", "x1000c0s0b1n0"]);

    expect(ids(await yaml(["smd", "groups", "list", "--member", "x1000c0s0b1n0"]))).toEqual(["compute"]);

    const removed = await ok(["smd", "groups", "remove-member", "compute", "x1000c0s0b0n0"]);
    expect(removed.stderr).toContain("removed x1000c0s0b0n0 from group compute");

    await ok([
      "smd",
      "groups",
      "update",
      "compute",
      "--description",
      "all compute",
      "--tag",
      "a",
      "--tag",
      "b",
    ]);
    expect((await piped(["smd", "groups", "get", "compute"])).spec).toEqual({
      name: "compute",
      description: "all compute",
      tags: ["a", "b"],
      members: ["x1000c0s0b1n0"],
    });

    const t = await table(["smd", "groups", "list"]);
    expect(t.header).toEqual(["NAME", "DESCRIPTION", "TAGS", "MEMBERS"]);
    expect(t.rows).toEqual([["compute", "all compute", "a,b", "x1000c0s0b1n0"]]);

    await ok(["smd", "groups", "delete", "compute"]);
    expect(await fails(1, ["smd", "groups", "get", "compute"])).toMatch(/HTTP 404/);
    // Its components stay.
    const { response } = await unwrap(
      api.GET("/hsm/v2/State/Components/{id}", { params: { path: { id: "x1000c0s0b1n0" } } }),
    );
    expect(response.status).toBe(200);
  });

  it("partitions: exclusive membership, list by name, update, delete", async () => {
    const p1 = await yaml(["smd", "partitions", "create", "--name", "p1", "--member", "x1000c0s0b0n0"]);
    expect(p1.kind).toBe("Partition");
    expect(p1.spec.members).toEqual(["x1000c0s0b0n0"]);

    await ok(["smd", "partitions", "create", "--name", "p2", "--description", "second"]);
    const taken = await fails(1, ["smd", "partitions", "add-member", "p2", "x1000c0s0b0n0"]);
    expect(taken).toMatch(/HTTP 409 Conflict/);
    expect(taken).toMatch(/already in partition 'p1'/);
    await ok(["smd", "partitions", "add-member", "p2", "x1000c0s0b1n0"]);

    expect(ids(await json(["smd", "partitions", "list", "--name", "p1,p2"]))).toEqual(["p1", "p2"]);

    // Moving a component: out of one partition, into the other.
    await ok(["smd", "partitions", "remove-member", "p1", "x1000c0s0b0n0"]);
    await ok(["smd", "partitions", "update", "p2", "--member", "x1000c0s0b0n0", "--member", "x1000c0s0b1n0"]);
    expect((await json(["smd", "partitions", "get", "p2"])).spec.members.sort()).toEqual([
      "x1000c0s0b0n0",
      "x1000c0s0b1n0",
    ]);

    const t = await table(["smd", "partitions", "get", "p2"]);
    expect(t.header).toEqual(["NAME", "DESCRIPTION", "TAGS", "MEMBERS"]);
    expect(t.rows[0]?.slice(0, 2)).toEqual(["p2", "second"]);

    const gone = await ok(["smd", "partitions", "delete", "p1", "p2"]);
    expect(gone.stderr).toMatch(/deleted p1\ndeleted p2/);
    const { data } = await unwrap(api.GET("/hsm/v2/partitions", {}));
    expect(data.items).toEqual([]);
  });
});

describe("chamicore smd --help", () => {
  it("renders with examples for every subcommand", async () => {
    const verbs = ["list", "get", "create", "update", "delete"];
    const commands = [
      ["smd"],
      ...["components", "interfaces", "groups", "partitions"].flatMap((r) => [
        ["smd", r],
        ...verbs.map((v) => ["smd", r, v]),
      ]),
      ...["groups", "partitions"].flatMap((r) => [
        ["smd", r, "add-member"],
        ["smd", r, "remove-member"],
      ]),
    ];
    await helpWithExamples(commands);
  });
});
