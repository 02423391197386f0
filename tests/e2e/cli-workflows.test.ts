/**
 * The composite CLI workflows as an operator runs them: the real
 * `chamicore` bin against a real `chamicore serve`, logged in as the
 * bootstrap admin. `node provision` / `node decommission` (idempotent,
 * --dry-run, partial failures and their exit codes) and `import` (a
 * 1,000-node OpenCHAMI nodes.yaml on a terminal with its progress bar, CSV
 * with bad rows, JSON the API refuses in part). Every claim is checked
 * through the API, not only through what the CLI says.
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CliHome, cliHome, startTestControl, type TestControl } from "../support/cli";
import { type Call, tokenFor, urlCall } from "../support/targets";

let control: TestControl;
let home: CliHome;
let call: Call;

beforeAll(async () => {
  control = await startTestControl();
  home = cliHome();
  const raw = urlCall(control.url);
  call = (method, path, init = {}) => raw(method, path, { token: control.adminToken, ...init });
  const login = await home.run(
    ["auth", "login", "--endpoint", control.url, "--client-id", "ops", "--client-secret-stdin"],
    { input: `${control.admin.secret}\n` },
  );
  expect(login.code, login.stderr).toBe(0);
});

afterAll(async () => {
  home?.cleanup();
  await control?.stop();
});

const file = (name: string, text: string) => {
  const path = join(home.dir, name);
  writeFileSync(path, text);
  return path;
};

/** Runs the CLI and parses its JSON output. */
async function json(args: string[]) {
  const r = await home.run([...args, "-o", "json"]);
  // biome-ignore lint/suspicious/noExplicitAny: the report is inspected freely.
  let doc: any;
  try {
    doc = JSON.parse(r.stdout);
  } catch {
    throw new Error(`not JSON (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  }
  return { ...r, doc };
}

const statuses = (doc: { steps: { step: string; status: string }[] }) =>
  Object.fromEntries(doc.steps.map((s) => [s.step, s.status]));

const componentsTotal = async () =>
  (await call("GET", "/hsm/v2/State/Components?limit=1")).json.metadata.total as number;

const KERNEL = "http://images.example/compute/vmlinuz-6.6";
const INITRD = "http://images.example/compute/initramfs-6.6.img";
const NODE = "x1000c0s0b0n0";
const MAC = "a4:bf:01:38:ee:65";

describe("help", () => {
  it("each command's --help exits 0 and shows examples", async () => {
    const runs = await Promise.all(
      [["node"], ["node", "provision"], ["node", "decommission"], ["import"]].map((c) =>
        home.run([...c, "--help"]),
      ),
    );
    for (const r of runs) {
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toContain("Examples");
    }
    expect(runs[1]!.stdout).toMatch(/Exit codes: 0 .* 4 a step failed after/s);
    expect(runs[3]!.stdout).toContain("nodes.yaml");
  });
});

describe("node provision and decommission", () => {
  const userData = "#cloud-config\nhostname: cn001\npackages: [htop]\n";

  it("provisions a node: component, interface, boot parameters and cloud-init payload", async () => {
    const ud = file("user-data.yaml", userData);
    const r = await json([
      "node",
      "provision",
      NODE,
      "--role",
      "Compute",
      "--nid",
      "1",
      "--mac",
      MAC,
      "--ip",
      "10.1.0.1",
      "--kernel",
      KERNEL,
      "--initrd",
      INITRD,
      "--params",
      "console=ttyS0,115200",
      "--user-data",
      ud,
      "--meta",
      "local-hostname=cn001",
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.doc.ok).toBe(true);
    expect(statuses(r.doc)).toEqual({
      component: "done",
      interfaces: "done",
      "boot-params": "done",
      "cloud-init": "done",
    });

    const comp = await call("GET", `/hsm/v2/State/Components/${NODE}`);
    expect(comp.status).toBe(200);
    expect(comp.json.spec).toMatchObject({ type: "Node", role: "Compute", nid: 1, state: "Populated" });
    const iface = await call("GET", `/hsm/v2/Inventory/EthernetInterfaces?macAddress=${MAC}`);
    expect(iface.json.items[0].spec).toMatchObject({
      componentId: NODE,
      ipAddresses: [{ ipAddress: "10.1.0.1" }],
    });
    const bp = await call("GET", `/boot/v1/bootparams?componentId=${NODE}`);
    expect(bp.json.items).toHaveLength(1);
    expect(bp.json.items[0].spec).toMatchObject({
      kernelUri: KERNEL,
      initrdUri: INITRD,
      cmdline: "console=ttyS0,115200",
    });
    const payload = await call("GET", `/cloud-init/payloads?componentId=${NODE}`);
    expect(payload.json.items[0].spec).toMatchObject({ userData, metaData: { "local-hostname": "cn001" } });
    // What the node gets when it network-boots with that MAC.
    const script = await call("GET", `/boot/v1/bootscript?mac=${MAC}`, { token: null });
    expect(script.status).toBe(200);
    expect(script.text).toContain(KERNEL);
    expect(script.text).toContain(INITRD);
  });

  it("provisions again idempotently: changes update in place, matching values are skipped", async () => {
    const ud = file("user-data.yaml", userData);
    const again = await json([
      "node",
      "provision",
      NODE,
      "--nid",
      "7",
      "--kernel",
      KERNEL,
      "--user-data",
      ud,
    ]);
    expect(again.code, again.stderr).toBe(0);
    expect(statuses(again.doc)).toEqual({
      component: "done",
      "boot-params": "done",
      "cloud-init": "skipped",
    });
    expect(again.doc.steps[0].detail).toContain("nid: 7");
    // No --initrd/--params this time: the boot parameters are replaced, not merged.
    expect(again.doc.steps[1].detail).toMatch(/replaced bp-/);
    const comp = await call("GET", `/hsm/v2/State/Components/${NODE}`);
    expect(comp.json.spec).toMatchObject({ nid: 7, role: "Compute" });
    const bp = await call("GET", `/boot/v1/bootparams?componentId=${NODE}`);
    expect(bp.json.items).toHaveLength(1);
    expect(bp.json.items[0].spec).toMatchObject({ kernelUri: KERNEL, initrdUri: "", cmdline: "" });
    expect((await call("GET", `/cloud-init/payloads?componentId=${NODE}`)).json.items).toHaveLength(1);

    // The same once more: nothing to do. On a terminal, a table of the steps.
    const same = await home.run(
      ["node", "provision", NODE, "--nid", "7", "--kernel", KERNEL, "--user-data", ud],
      {
        tty: true,
      },
    );
    expect(same.code, same.stdout).toBe(0);
    expect(same.stdout).toMatch(/#\s+STEP\s+WHAT\s+STATUS\s+DETAIL/);
    expect(same.stdout).toMatch(/boot-params\s+.*skipped/);
    expect(same.stdout).toContain(`${NODE} was already provisioned; nothing changed`);
  });

  it("--dry-run shows the plan and changes nothing", async () => {
    const ud = file("user-data.yaml", userData);
    const fresh = await json([
      "node",
      "provision",
      "cn-dry",
      "--mac",
      "02:00:00:00:d0:01",
      "--kernel",
      KERNEL,
      "--user-data",
      ud,
      "--dry-run",
    ]);
    expect(fresh.code, fresh.stderr).toBe(0);
    expect(fresh.doc).toMatchObject({ dryRun: true, ok: true });
    expect(Object.values(statuses(fresh.doc))).toEqual(["would", "would", "would", "would"]);
    expect((await call("GET", "/hsm/v2/State/Components/cn-dry")).status).toBe(404);
    expect((await call("GET", "/boot/v1/bootparams?componentId=cn-dry")).json.items).toHaveLength(0);

    const before = (await call("GET", `/boot/v1/bootparams?componentId=${NODE}`)).json.items[0];
    const change = await json(["node", "provision", NODE, "--kernel", `${KERNEL}-new`, "--dry-run"]);
    expect(change.code).toBe(0);
    expect(statuses(change.doc)["boot-params"]).toBe("would");
    expect(change.doc.steps[1].detail).toContain("kernelUri");
    const after = (await call("GET", `/boot/v1/bootparams?componentId=${NODE}`)).json.items[0];
    expect(after.metadata.etag).toBe(before.metadata.etag);

    const decom = await json(["node", "decommission", NODE, "--dry-run"]);
    expect(decom.code).toBe(0);
    expect(statuses(decom.doc)).toEqual({
      "cloud-init": "would",
      "boot-params": "would",
      component: "would",
    });
    expect((await call("GET", `/cloud-init/payloads?componentId=${NODE}`)).json.items).toHaveLength(1);
    expect((await call("GET", `/hsm/v2/State/Components/${NODE}`)).json.spec.state).toBe("Populated");
  });

  it("decommissions: payload and boot parameters gone, state Empty; again: nothing to do", async () => {
    const r = await json(["node", "decommission", NODE]);
    expect(r.code, r.stderr).toBe(0);
    expect(statuses(r.doc)).toEqual({ "cloud-init": "done", "boot-params": "done", component: "done" });
    expect(r.doc.steps[2].detail).toBe("state Populated → Empty");
    expect((await call("GET", `/cloud-init/payloads?componentId=${NODE}`)).json.items).toHaveLength(0);
    expect((await call("GET", `/boot/v1/bootparams?componentId=${NODE}`)).json.items).toHaveLength(0);
    expect((await call("GET", `/hsm/v2/State/Components/${NODE}`)).json.spec.state).toBe("Empty");

    const again = await json(["node", "decommission", NODE]);
    expect(again.code).toBe(0);
    expect(Object.values(statuses(again.doc))).toEqual(["skipped", "skipped", "skipped"]);

    // Provisioning brings it back (Empty → Populated); --delete removes it.
    expect((await home.run(["node", "provision", NODE, "--kernel", KERNEL])).code).toBe(0);
    expect((await call("GET", `/hsm/v2/State/Components/${NODE}`)).json.spec.state).toBe("Populated");
    const del = await json(["node", "decommission", NODE, "--delete"]);
    expect(del.code, del.stderr).toBe(0);
    expect(statuses(del.doc)).toEqual({ "cloud-init": "skipped", "boot-params": "done", component: "done" });
    expect((await call("GET", `/hsm/v2/State/Components/${NODE}`)).status).toBe(404);
  });

  it("a step the API refuses after earlier steps changed something: exit 4, the report says what happened", async () => {
    const bad = file("bad-user-data.txt", "hello, I am not cloud-config\n");
    const r = await json(["node", "provision", "cn-partial", "--kernel", KERNEL, "--user-data", bad]);
    expect(r.code).toBe(4);
    expect(r.doc.ok).toBe(false);
    expect(statuses(r.doc)).toEqual({ component: "done", "boot-params": "done", "cloud-init": "failed" });
    const failed = r.doc.steps[2];
    expect(failed.error.status).toBe(422);
    expect(failed.detail).toContain("userData");
    expect(failed.detail).toContain("cloud-init header");
    // What succeeded stays, as reported.
    expect((await call("GET", "/hsm/v2/State/Components/cn-partial")).status).toBe(200);
    expect((await call("GET", "/boot/v1/bootparams?componentId=cn-partial")).json.items).toHaveLength(1);
    expect((await call("GET", "/cloud-init/payloads?componentId=cn-partial")).json.items).toHaveLength(0);

    // A failure in the middle: the later steps are reported as not run.
    const table = await home.run([
      "node",
      "provision",
      "cn-partial2",
      "--kernel",
      "not-a-uri",
      "-o",
      "table",
    ]);
    expect(table.code).toBe(4);
    expect(table.stdout).toMatch(/component\s+.*done\s+created/);
    expect(table.stdout).toMatch(/boot-params\s+.*failed\s+HTTP 422 .*kernelUri/);
    expect(table.stdout).toMatch(/cloud-init\s+.*skipped\s+not run: step 2 \(boot-params\) failed/);
    expect(table.stdout).toContain("partial failure");

    // The very first step failing changes nothing: exit 1.
    const first = await json(["node", "provision", "cn-first", "--role", "Wizard", "--kernel", KERNEL]);
    expect(first.code).toBe(1);
    expect(statuses(first.doc)).toEqual({
      component: "failed",
      "boot-params": "skipped",
      "cloud-init": "skipped",
    });
    expect((await call("GET", "/hsm/v2/State/Components/cn-first")).status).toBe(404);

    // Allowed to write components but not boot parameters: the 403 comes after a change, exit 4.
    const scoped = await tokenFor(
      urlCall(control.url),
      control.admin.id,
      control.admin.secret,
      "read:components write:components read:bootparams read:payloads",
    );
    const forbidden = await json(["node", "provision", "cn-scoped", "--kernel", KERNEL, "--token", scoped]);
    expect(forbidden.code).toBe(4);
    expect(statuses(forbidden.doc)).toEqual({
      component: "done",
      "boot-params": "failed",
      "cloud-init": "skipped",
    });
    expect(forbidden.doc.steps[1].error.status).toBe(403);

    // Bad flags: nothing sent, exit 2.
    const usage = await home.run(["node", "provision", "cn-usage", "--kernel", KERNEL, "--mac", "nope"]);
    expect(usage.code).toBe(2);
    expect(usage.stderr).toContain("--mac 'nope'");
  });
});

describe("import", () => {
  /** OpenCHAMI's nodes.yaml for `n` nodes. */
  function nodesYaml(n: number): string {
    const out = ["# generated", "nodes:"];
    for (let i = 0; i < n; i++) {
      const h = (i + 1).toString(16).padStart(4, "0");
      out.push(
        `  - name: nid${String(i + 1).padStart(4, "0")}`,
        `    xname: x${3000 + Math.floor(i / 64)}c0s${i % 64}b0n0`,
        `    nid: ${i + 1}`,
        "    role: compute",
        "    group: compute",
        "    interfaces:",
        `      - mac_addr: 02:00:00:01:${h.slice(0, 2)}:${h.slice(2)}`,
        "        ip_addrs:",
        "          - name: internal",
        `            ip_addr: 10.20.${Math.floor(i / 250)}.${(i % 250) + 1}`,
      );
    }
    return `${out.join("\n")}\n`;
  }

  it("imports a 1,000-node nodes.yaml on a terminal with a progress bar", async () => {
    const path = file("nodes.yaml", nodesYaml(1000));
    const before = await componentsTotal();
    const r = await home.run(["import", path, "--batch", "100"], { tty: true, timeoutMs: 60_000 });
    expect(r.code, r.stdout).toBe(0);
    // The bar is redrawn in place (\r) after every batch: count/total, percentage and rate.
    const updates = r.stdout.split("\r").filter((s) => /\] \d+\/1000 +\d+% +\d+\/s/.test(s));
    expect(updates.length).toBeGreaterThanOrEqual(10);
    expect(r.stdout).toMatch(/\] 500\/1000 +50%/);
    expect(r.stdout).toMatch(/\] 1000\/1000 100%/);
    expect(r.stdout).toMatch(/imported 1000, failed 0, in \d+\.\d s; groups: compute \(1000\)/);

    expect((await componentsTotal()) - before).toBe(1000);
    const node = await call("GET", "/hsm/v2/State/Components/x3015c0s39b0n0");
    expect(node.json.spec).toMatchObject({ type: "Node", role: "Compute", nid: 1000, rack: "x3015" });
    const group = await call("GET", "/hsm/v2/groups/compute");
    expect(group.json.spec.members).toHaveLength(1000);
    const iface = await call("GET", "/hsm/v2/Inventory/EthernetInterfaces?macAddress=02:00:00:01:03:e8");
    expect(iface.json.items[0].spec).toMatchObject({
      componentId: "x3015c0s39b0n0",
      ipAddresses: [{ ipAddress: "10.20.3.250", network: "internal" }],
    });
  });

  it("in a pipe: no bar, one summary line; -o json gives the report", async () => {
    const path = file(
      "bmc.yaml",
      [
        "nodes:",
        "  - name: gpu01",
        "    xname: x4000c0s0b0n0",
        "    groups: [gpu]",
        "    bmc_mac: 02:00:00:02:00:01",
        "    bmc_ip: 172.16.0.1",
        "  - name: gpu02",
        "    xname: x4000c0s0b0n1",
        "    group: gpu",
        "    bmc_mac: 02:00:00:02:00:01",
        "",
      ].join("\n"),
    );
    const r = await json(["import", path]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).not.toContain("\r");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expect(r.stderr).toMatch(/^imported 3, failed 0, in \d+\.\d s; groups: gpu \(2\)/);
    expect(r.doc).toMatchObject({ ok: true, items: 2, components: 3, imported: 3, failed: 0, errors: [] });
    // Both nodes share one BMC, the nodes' xname parent.
    const bmc = await call("GET", "/hsm/v2/State/Components/x4000c0s0b0");
    expect(bmc.json.spec.type).toBe("NodeBMC");
    const bmcIface = await call("GET", "/hsm/v2/Inventory/EthernetInterfaces?componentId=x4000c0s0b0");
    expect(bmcIface.json.items[0].spec.ipAddresses).toEqual([{ ipAddress: "172.16.0.1", network: null }]);
  });

  const csv = [
    "id,type,role,nid,mac,ip,group",
    "cn101,Node,Compute,101,02:00:00:03:00:01,10.30.0.1,csv",
    "cn101,,,,02:00:00:03:01:01,10.31.0.1;10.32.0.1,",
    "cn102,node,compute,102,02:00:00:03:00:02,10.30.0.2,csv",
    "cn103,Node,Wizard,103,02:00:00:03:00:03,10.30.0.3,csv",
    "cn104,Node,Compute,x,zz:zz,10.30.0.4,csv",
    '"cn105",Node,"Compute",105,02:00:00:03:00:05,"10.30.0.5",csv',
    "",
  ].join("\n");

  it("a CSV with bad rows: every bad row with its line, nothing imported, exit 2", async () => {
    const path = file("nodes.csv", csv);
    const r = await json(["import", path]);
    expect(r.code).toBe(2);
    expect(r.doc).toMatchObject({ ok: false, items: 5, invalid: 2, imported: 0 });
    expect(r.doc.errors.map((e: { line: number; field: string }) => [e.line, e.field])).toEqual([
      [5, "role"],
      [6, "nid"],
      [6, "interfaces[0].macAddress"],
    ]);
    expect(r.stderr).toContain("2 of 5 components are not valid; nothing was imported");
    expect((await call("GET", "/hsm/v2/State/Components/cn101")).status).toBe(404);

    const table = await home.run(["import", path, "-o", "table"]);
    expect(table.code).toBe(2);
    expect(table.stdout).toMatch(/^LINE\s+ID\s+STAGE\s+FIELD\s+REASON/);
    expect(table.stdout).toMatch(/5\s+cn103\s+invalid\s+role\s+'Wizard' is not one of Compute/);
    expect(table.stdout).toMatch(/6\s+cn104\s+invalid\s+nid\s+'x' is not a whole number/);
  });

  it("--skip-invalid imports the good rows and exits 4", async () => {
    const path = file("nodes.csv", csv);
    const r = await json(["import", path, "--skip-invalid"]);
    expect(r.code, r.stderr).toBe(4);
    expect(r.doc).toMatchObject({ ok: false, components: 3, imported: 3, failed: 2, invalid: 2, refused: 0 });
    expect(r.stderr).toMatch(/imported 3, failed 2 \(2 invalid\)/);
    // Rows of one id make one component with both interfaces.
    const ifaces = await call("GET", "/hsm/v2/Inventory/EthernetInterfaces?componentId=cn101");
    expect(ifaces.json.items.map((i: { spec: { macAddress: string } }) => i.spec.macAddress).sort()).toEqual([
      "02:00:00:03:00:01",
      "02:00:00:03:01:01",
    ]);
    expect((await call("GET", "/hsm/v2/State/Components/cn102")).json.spec.role).toBe("Compute");
    expect((await call("GET", "/hsm/v2/State/Components/cn103")).status).toBe(404);
    expect((await call("GET", "/hsm/v2/groups/csv")).json.spec.members.sort()).toEqual([
      "cn101",
      "cn102",
      "cn105",
    ]);
  });

  it("a JSON file the API refuses in part: per-item errors on their lines, the rest goes in, exit 4", async () => {
    // One item a line: item i is on line i + 2.
    const items = [
      { id: "js-a", type: "Node", role: "Compute" },
      { id: "js-b", type: "Node", interfaces: [{ macAddress: "02:00:00:04:00:01" }] },
      { id: "js-a", type: "Node" },
      { id: "cn101", type: "Node" },
      { id: "js-c", type: "Node" },
    ];
    const path = file(
      "dup.json",
      `{"components": [\n${items.map((c) => `  ${JSON.stringify(c)}`).join(",\n")}\n]}\n`,
    );
    const r = await json(["import", path, "--batch", "4"]);
    expect(r.code, r.stderr).toBe(4);
    expect(r.doc).toMatchObject({ imported: 3, failed: 2, refused: 2, batches: 2 });
    expect(r.doc.errors).toEqual([
      {
        line: 4,
        id: "js-a",
        field: "id",
        stage: "refused",
        message: "component id 'js-a' is repeated: first at id on line 2",
      },
      { line: 5, id: "cn101", field: "id", stage: "refused", message: "component 'cn101' already exists" },
    ]);
    for (const id of ["js-a", "js-b", "js-c"])
      expect((await call("GET", `/hsm/v2/State/Components/${id}`)).status).toBe(200);
  });

  it("reads stdin; without the right to write components: exit 3, nothing sent after the refusal", async () => {
    const input = "id,type\nin-1,Node\nin-2,Node\n";
    const piped = await home.run(["import", "-", "--format", "csv", "-o", "json"], { input });
    expect(piped.code, piped.stderr).toBe(0);
    expect(JSON.parse(piped.stdout)).toMatchObject({ ok: true, imported: 2, format: "csv" });

    const readOnly = await tokenFor(
      urlCall(control.url),
      control.admin.id,
      control.admin.secret,
      "read:components",
    );
    const refused = await home.run(
      ["import", "-", "--format", "csv", "--batch", "1", "-o", "json", "--token", readOnly],
      { input: "id,type\nin-3,Node\nin-4,Node\n" },
    );
    expect(refused.code).toBe(3);
    const doc = JSON.parse(refused.stdout);
    expect(doc).toMatchObject({ imported: 0, failed: 2 });
    expect(doc.errors[0].message).toMatch(
      /^stopped: HTTP 403 .*2 component\(s\) from line 2 on were not sent/,
    );
    expect((await call("GET", "/hsm/v2/State/Components/in-3")).status).toBe(404);
  });

  it("--dry-run checks and plans without sending", async () => {
    const path = file("dry.yaml", "components:\n  - id: dry-1\n    type: Node\n    role: Compute\n");
    const r = await json(["import", path, "--dry-run"]);
    expect(r.code).toBe(0);
    expect(r.doc).toMatchObject({ dryRun: true, components: 1, imported: 0, batches: 1 });
    expect(r.stderr).toContain("dry run: would import 1 component(s) in 1 batch(es)");
    expect((await call("GET", "/hsm/v2/State/Components/dry-1")).status).toBe(404);
  });
});
