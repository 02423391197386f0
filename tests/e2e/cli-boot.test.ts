/**
 * `chamicore bss …` and `chamicore cloud-init …` as an operator runs them:
 * the real bin in a child process against a real control plane. Boot
 * parameters and payloads make a round trip (create, get, list with a
 * filter, update, delete) read back through the CLI; `bss script` and
 * `cloud-init preview` show what a node would be served; every output
 * format is parsed back; errors give the documented exit codes; every
 * subcommand's --help has examples.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createClient, unwrap } from "../../shared/client";
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

const NODE = "x1000c0s0b0n0";
const MAC = "a4:bf:01:38:ee:65";
const OTHER = "x1000c0s0b1n0";

beforeAll(async () => {
  control = await startTestControl();
  // The inventory the boot and cloud-init commands work on, straight through the API.
  const api = createClient({ endpoint: control.url, token: () => control.adminToken });
  await unwrap(
    api.POST("/hsm/v2/State/Components", {
      body: {
        id: NODE,
        role: "Compute",
        nid: 1,
        interfaces: [{ macAddress: MAC, ipAddresses: [{ ipAddress: "10.1.0.17" }] }],
      },
    }),
  );
  await unwrap(api.POST("/hsm/v2/State/Components", { body: { id: OTHER, role: "Compute", nid: 2 } }));
  await unwrap(api.POST("/hsm/v2/groups", { body: { name: "gpu", members: [OTHER] } }));
  const login = await loginAsAdmin(home, control);
  expect(login.code, login.stderr).toBe(0);
});

afterAll(async () => {
  await control?.stop();
  home?.cleanup();
});

home = cliHome();
const { ok, json, yaml, piped, ids, table, fails, helpWithExamples } = cliAsserts(home);

describe("chamicore bss", () => {
  it("boot parameters round-trip, and the boot script shows what the node boots", async () => {
    const role = await json([
      "bss",
      "bootparams",
      "create",
      "--role",
      "Compute",
      "--kernel",
      "http://images.example/compute/vmlinuz",
      "--initrd",
      "http://images.example/compute/initrd.img",
      "--params",
      "console=ttyS0,115200",
    ]);
    expect(role.kind).toBe("BootParams");
    expect(role.spec).toMatchObject({
      role: "Compute",
      componentId: null,
      isDefault: false,
      kernelUri: "http://images.example/compute/vmlinuz",
      initrdUri: "http://images.example/compute/initrd.img",
      cmdline: "console=ttyS0,115200",
    });

    const fallback = await yaml([
      "bss",
      "bootparams",
      "create",
      "--default",
      "--kernel",
      "http://images.example/any/vmlinuz",
    ]);
    expect(fallback.metadata.id).toMatch(/^bp-[0-9a-f]{8}$/);
    expect(fallback.spec).toMatchObject({ isDefault: true, role: null, initrdUri: "", cmdline: "" });

    await ok([
      "bss",
      "bootparams",
      "create",
      "--id",
      "bp-node1",
      "--component",
      NODE,
      "--kernel",
      "http://images.example/{role}/vmlinuz-{id}",
    ]);
    expect((await piped(["bss", "bootparams", "get", "bp-node1"])).spec.componentId).toBe(NODE);

    expect(ids(await json(["bss", "bootparams", "list", "--component", NODE]))).toEqual(["bp-node1"]);
    expect(ids(await json(["bss", "bootparams", "list", "--default"]))).toEqual([fallback.metadata.id]);
    const t = await table(["bss", "bootparams", "list", "--role", "Compute"]);
    expect(t.header).toEqual(["ID", "TARGET", "KERNEL", "INITRD", "PARAMS"]);
    expect(t.rows).toEqual([
      [
        role.metadata.id,
        "role=Compute",
        "http://images.example/compute/vmlinuz",
        "http://images.example/compute/initrd.img",
        "console=ttyS0,115200",
      ],
    ]);

    // The script as served: text, the node's own params, placeholders substituted.
    const script = await ok(["bss", "script", "--mac", "A4-BF-01-38-EE-65"]);
    expect(script.stdout.startsWith("#!ipxe\n")).toBe(true);
    expect(script.stdout).toContain(`kernel --name kernel http://images.example/Compute/vmlinuz-${NODE}`);
    expect(script.stdout).toContain(`chamicore.id=${NODE}`);

    // Another node of the role gets the role's params; JSON gives {kind, script}.
    const other = await json(["bss", "script", "--name", OTHER]);
    expect(other.kind).toBe("boot");
    expect(other.script).toContain("kernel --name kernel http://images.example/compute/vmlinuz");
    expect(other.script).toContain("initrd --name initrd http://images.example/compute/initrd.img");

    await ok([
      "bss",
      "bootparams",
      "update",
      "bp-node1",
      "--kernel",
      "http://images.example/v2/vmlinuz",
      "--cmdline",
      "quiet",
    ]);
    expect((await json(["bss", "bootparams", "get", "bp-node1"])).spec).toMatchObject({
      componentId: NODE,
      kernelUri: "http://images.example/v2/vmlinuz",
      cmdline: "quiet",
    });
    const again = await yaml(["bss", "script", "--nid", "1", "--retry", "2"]);
    expect(again.kind).toBe("boot");
    expect(again.script).toMatch(
      /kernel --name kernel http:\/\/images\.example\/v2\/vmlinuz quiet chamicore\.id=/,
    );
    expect(again.script).toContain("attempt 3 of 11");

    // A target flag moves the params: the node falls back to its role's.
    await ok(["bss", "bootparams", "update", "bp-node1", "--role", "Service"]);
    expect((await json(["bss", "bootparams", "get", "bp-node1"])).spec).toMatchObject({
      componentId: null,
      role: "Service",
    });
    expect((await ok(["bss", "script", "--name", NODE])).stdout).toContain(
      "http://images.example/compute/vmlinuz",
    );

    await ok(["bss", "bootparams", "delete", "bp-node1"]);
    expect(await fails(1, ["bss", "bootparams", "get", "bp-node1"])).toMatch(/HTTP 404/);

    // A node that cannot boot gets a script that waits, and says so.
    const unknown = await ok(["bss", "script", "--name", "x9c0s0b0n0"]);
    expect(unknown.stdout).toContain("is not in the inventory");
    expect(unknown.stderr).toContain("cannot boot yet");
  });

  it("reports the API's refusals and usage errors with their exit codes", async () => {
    const invalid = await fails(1, [
      "bss",
      "bootparams",
      "create",
      "--role",
      "Storage",
      "--kernel",
      "not a uri",
    ]);
    expect(invalid).toMatch(/HTTP 422 Validation failed/);
    expect(invalid).toMatch(/^\s+kernelUri: /m);
    expect(await fails(1, ["bss", "bootparams", "get", "bp-missing"])).toMatch(/HTTP 404 Not found/);

    const flag = await fails(2, ["bss", "bootparams", "list", "--kernal", "x"]);
    expect(flag.trim().split("\n")).toHaveLength(1);
    expect(flag).toMatch(/kernal/);
    expect(await fails(2, ["bss", "bootparams", "create", "--component", NODE, "--role", "Compute"])).toMatch(
      /mutually exclusive/,
    );
    expect(await fails(2, ["bss", "script"])).toMatch(/--mac, --name or --nid/);
  });
});

describe("chamicore cloud-init", () => {
  it("payloads round-trip, and preview shows what the node is served", async () => {
    const file = join(home.dir, "node.yaml");
    writeFileSync(file, "#cloud-config\nruncmd:\n  - echo hello-from-the-cli\n");

    const own = await json([
      "cloud-init",
      "payloads",
      "create",
      "--id",
      "payload-node1",
      "--component",
      NODE,
      "--user-data-file",
      file,
      "--meta",
      "rack=r12",
      "--meta",
      "slot=3",
    ]);
    expect(own.spec).toMatchObject({
      id: "payload-node1",
      componentId: NODE,
      userData: "#cloud-config\nruncmd:\n  - echo hello-from-the-cli\n",
      metaData: { rack: "r12", slot: 3 },
      bindToAddress: false,
    });

    // user-data from stdin, for the role.
    const byRole = await json(
      ["cloud-init", "payloads", "create", "--role", "Compute", "--user-data-file", "-"],
      {
        input: "#cloud-config\npackages: [htop]\n",
      },
    );
    expect(byRole.metadata.id).toMatch(/^payload-[0-9a-f]{16}$/);

    const byGroup = await yaml([
      "cloud-init",
      "payloads",
      "create",
      "--group",
      "gpu",
      "--vendor-data",
      "#!/bin/sh\necho gpu\n",
    ]);
    expect(byGroup.spec).toMatchObject({ group: "gpu", vendorData: "#!/bin/sh\necho gpu\n", userData: null });

    expect((await piped(["cloud-init", "payloads", "get", "payload-node1"])).spec.metaData).toEqual({
      rack: "r12",
      slot: 3,
    });
    expect(ids(await json(["cloud-init", "payloads", "list", "--role", "Compute"]))).toEqual([
      byRole.metadata.id,
    ]);
    const t = await table(["cloud-init", "payloads", "list", "--component", NODE]);
    expect(t.header).toEqual(["ID", "TARGET", "USER-DATA", "META-DATA", "VENDOR-DATA", "BIND"]);
    expect(t.rows).toEqual([
      ["payload-node1", `component=${NODE}`, "#cloud-config (3 lines)", "rack,slot", "false"],
    ]);

    // What the node is served: its role's and its own user-data, merged; text as served.
    const served = await ok(["cloud-init", "preview", NODE]);
    expect(served.stdout).toMatch(/^#cloud-config\n/);
    expect(served.stdout).toContain("hello-from-the-cli");
    expect(served.stdout).toContain("htop");
    const meta = await json(["cloud-init", "preview", NODE, "--document", "meta-data"]);
    expect(meta).toMatchObject({ component: NODE, document: "meta-data" });
    expect(JSON.parse(meta.content)).toMatchObject({ "instance-id": `iid-${NODE}`, rack: "r12", slot: 3 });
    expect((await ok(["cloud-init", "preview", OTHER, "-d", "vendor-data"])).stdout).toContain("echo gpu");

    writeFileSync(file, "#cloud-config\nruncmd:\n  - echo changed-by-the-cli\n");
    await ok([
      "cloud-init",
      "payloads",
      "update",
      "payload-node1",
      "--user-data-file",
      file,
      "--set",
      "metaData.slot=null",
    ]);
    const updated = await json(["cloud-init", "payloads", "get", "payload-node1"]);
    expect(updated.spec.userData).toContain("changed-by-the-cli");
    expect(updated.spec.metaData).toEqual({ rack: "r12" });
    const now = await yaml(["cloud-init", "preview", NODE]);
    expect(now.content).toContain("changed-by-the-cli");
    expect(now.content).not.toContain("hello-from-the-cli");

    await ok(["cloud-init", "payloads", "delete", "payload-node1"]);
    expect(await fails(1, ["cloud-init", "payloads", "get", "payload-node1"])).toMatch(/HTTP 404/);
    expect((await ok(["cloud-init", "preview", NODE])).stdout).not.toContain("changed-by-the-cli");
  });

  it("reports the API's refusals and usage errors with their exit codes", async () => {
    const invalid = await fails(1, [
      "cloud-init",
      "payloads",
      "create",
      "--component",
      OTHER,
      "--user-data",
      "not a cloud-init document",
    ]);
    expect(invalid).toMatch(/HTTP 422 Validation failed/);
    expect(invalid).toMatch(/^\s+userData: /m);
    expect(await fails(1, ["cloud-init", "preview", "x9c0s0b0n0"])).toMatch(/HTTP 404 Not found/);

    const flag = await fails(2, ["cloud-init", "payloads", "list", "--userdata"]);
    expect(flag.trim().split("\n")).toHaveLength(1);
    expect(await fails(2, ["cloud-init", "preview", NODE, "--document", "network-config"])).toMatch(
      /Invalid values/,
    );
  });
});

describe("chamicore bss and cloud-init --help", () => {
  it("renders with examples for every subcommand", async () => {
    const verbs = ["list", "get", "create", "update", "delete"];
    const commands = [
      ["bss"],
      ["bss", "bootparams"],
      ...verbs.map((v) => ["bss", "bootparams", v]),
      ["bss", "script"],
      ["cloud-init"],
      ["cloud-init", "payloads"],
      ...verbs.map((v) => ["cloud-init", "payloads", v]),
      ["cloud-init", "preview"],
    ];
    await helpWithExamples(commands);
  });
});
