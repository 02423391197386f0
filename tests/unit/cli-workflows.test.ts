/**
 * The pure parts of the composite CLI commands: reading import files (CSV,
 * JSON/YAML, OpenCHAMI nodes.yaml) with their line numbers, mapping the
 * API's per-item errors back to lines, the progress line, the step runner
 * with its exit-code rules, and what `node provision` decides to change.
 */
import { describe, expect, it } from "vitest";
import {
  bootParamsChanges,
  componentCreateBody,
  componentPatch,
  describeFields,
  interfaceAction,
  pairInterfaces,
  payloadChanges,
  typeLabel,
} from "../../control/cli/workflows/node-plan";
import { batches, progressLine, seconds } from "../../control/cli/workflows/progress";
import {
  exitCodeOf,
  runSteps,
  type Step,
  type StepsReport,
  stepError,
  summaryLine,
} from "../../control/cli/workflows/steps";
import {
  type Entry,
  formatOf,
  ImportFileError,
  itemErrors,
  jsonLines,
  parseCsv,
  parseImport,
} from "../../functions/inventory/import-file";
import { ApiProblem } from "../../shared/client";
import { CliError } from "../../shared/node/cli/errors";

const usageError = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(CliError);
    expect((e as CliError).code).toBe(2);
    return (e as CliError).message;
  }
  throw new Error("did not throw");
};

/** A file the importer cannot use at all: the CLI says so with exit code 2 (usage). */
const fileError = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(ImportFileError);
    return (e as Error).message;
  }
  throw new Error("did not throw");
};

describe("parseCsv", () => {
  it("reads quoted fields, doubled quotes, CRLF, and skips blank and comment lines", () => {
    const text = '\ufeffa,b,c\r\n\r\n# note\n1,"x, y","say ""hi"""\n"multi\nline",2,\n';
    expect(parseCsv(text)).toEqual([
      { line: 1, fields: ["a", "b", "c"] },
      { line: 4, fields: ["1", "x, y", 'say "hi"'] },
      { line: 5, fields: ["multi\nline", "2", ""] },
    ]);
  });

  it("reads a last line without a newline, and refuses an unclosed quote", () => {
    expect(parseCsv("a,b\n1,2")).toEqual([
      { line: 1, fields: ["a", "b"] },
      { line: 2, fields: ["1", "2"] },
    ]);
    expect(fileError(() => parseCsv('a\n"open'))).toContain("line 2");
  });
});

describe("formatOf", () => {
  it("takes --format, else the extension, else the content", () => {
    expect(formatOf("x.yaml", "", "csv")).toBe("csv");
    expect(formatOf("x.CSV", "")).toBe("csv");
    expect(formatOf("x.json", "")).toBe("json");
    expect(formatOf("x.yml", "")).toBe("yaml");
    expect(formatOf("-", '  {"components": []}')).toBe("json");
    expect(formatOf("-", "id,type\nx,Node\n")).toBe("csv");
    expect(formatOf("-", "nodes:\n  - xname: x1\n")).toBe("yaml");
  });
});

describe("parseImport: CSV", () => {
  it("makes one component of the rows of one id, with an interface per row and the row's lines", () => {
    const p = parseImport(
      [
        "ID,Type,Role,NID,MAC,IP,Network,Group,Enabled",
        "cn1,node,compute,1,02:00:00:00:00:01,10.0.0.1;10.1.0.1,mgmt,ga;gb,yes",
        "cn1,,,,02-00-00-00-01-01,,,gc,",
        "x1000c0s0b0n0,,,2,,,,,",
      ].join("\n"),
      "csv",
    );
    expect(p.invalid).toEqual([]);
    expect(p.items).toBe(2);
    const [cn1, x] = p.entries;
    expect(cn1).toMatchObject({ line: 2, id: "cn1", groups: ["ga", "gb", "gc"], ifaceLines: [2, 3] });
    expect(cn1!.component).toEqual({
      id: "cn1",
      type: "Node",
      role: "Compute",
      nid: 1,
      enabled: true,
      interfaces: [
        {
          macAddress: "02:00:00:00:00:01",
          ipAddresses: [
            { ipAddress: "10.0.0.1", network: "mgmt" },
            { ipAddress: "10.1.0.1", network: "mgmt" },
          ],
        },
        { macAddress: "02:00:00:00:01:01" },
      ],
    });
    // An xname implies the type: the API derives it.
    expect(x!.component).toEqual({ id: "x1000c0s0b0n0", nid: 2 });
  });

  it("reports bad rows on their lines: schema problems, disagreeing rows, extra fields, no id", () => {
    const p = parseImport(
      [
        "id,role,nid,mac,bmc_ip",
        "a1,Wizard,1,,",
        "a2,Compute,x,zz,",
        "a3,Compute,3,,",
        "a3,Service,,,",
        "a4,Compute,4,,,extra",
        ",Compute,5,,",
        "a6,,,,10.0.0.1",
        "ok,Compute,7,,",
      ].join("\n"),
      "csv",
    );
    expect(p.entries.map((e) => e.id)).toEqual(["ok"]);
    expect(p.invalidLines).toEqual([2, 3, 4, 6, 7, 8]);
    const by = p.invalid.map((e) => [e.line, e.field, e.message]);
    expect(by).toContainEqual([2, "role", expect.stringContaining("'Wizard' is not one of Compute")]);
    expect(by).toContainEqual([3, "nid", "'x' is not a whole number"]);
    expect(by).toContainEqual([3, "interfaces[0].macAddress", expect.stringContaining("must be a MAC")]);
    expect(by).toContainEqual([5, "role", expect.stringContaining("differs from 'Compute' on line 4")]);
    expect(by).toContainEqual([6, undefined, expect.stringContaining("6 fields for 5 columns")]);
    expect(by).toContainEqual([7, undefined, "no id (give id, xname or name)"]);
    expect(by).toContainEqual([8, "bmc_ip", expect.stringContaining("needs bmc_mac")]);
  });

  it("refuses a header it does not know, or one without an id", () => {
    expect(fileError(() => parseImport("id,colour\n", "csv", "f.csv"))).toContain("unknown column 'colour'");
    expect(fileError(() => parseImport("type,role\n", "csv", "f.csv"))).toContain("needs an id");
    expect(fileError(() => parseImport("", "csv", "f.csv"))).toContain("empty");
  });
});

describe("parseImport: JSON and YAML", () => {
  const nodesYaml = `# OpenCHAMI
nodes:
  - name: node01
    xname: x1000c1s7b0n0
    nid: 1
    role: compute
    groups: [compute, gpu]
    bmc_mac: DE:CA:FC:0F:EE:EE
    bmc_ip: 172.16.0.101
    interfaces:
      - mac_addr: de:ad:be:ee:ef:01
        ip_addrs:
          - name: internal
            ip_addr: 172.16.0.1
      - mac_addr: de:ad:be:ee:ef:02
  - name: node02
    xname: x1000c1s7b0n1
    group: compute
    bmc_mac: de:ca:fc:0f:ee:ee
  - name: plain
    bmc_mac: de:ca:fc:0f:ee:01
    interfaces:
      - mac_addr: nope
`;

  it("reads OpenCHAMI's nodes.yaml: ids, groups, interfaces, one shared BMC, each on its line", () => {
    const p = parseImport(nodesYaml, "yaml");
    expect(p.items).toBe(3);
    expect(p.entries.map((e) => [e.id, e.line])).toEqual([
      ["x1000c1s7b0", 3],
      ["x1000c1s7b0n0", 3],
      ["x1000c1s7b0n1", 16],
    ]);
    expect(p.entries[0]!.component).toEqual({
      id: "x1000c1s7b0",
      interfaces: [{ macAddress: "de:ca:fc:0f:ee:ee", ipAddresses: [{ ipAddress: "172.16.0.101" }] }],
    });
    expect(p.entries[1]!.component).toEqual({
      id: "x1000c1s7b0n0",
      nid: 1,
      role: "Compute",
      interfaces: [
        {
          macAddress: "de:ad:be:ee:ef:01",
          ipAddresses: [{ ipAddress: "172.16.0.1", network: "internal" }],
        },
        { macAddress: "de:ad:be:ee:ef:02" },
      ],
    });
    expect(p.entries[1]!.groups).toEqual(["compute", "gpu"]);
    expect(p.entries[1]!.ifaceLines).toEqual([11, 15]);
    expect(p.entries[2]!.groups).toEqual(["compute"]);
    // The third: a non-xname id gets a Node type and a <id>-bmc; its bad MAC is on the interface's line.
    expect(p.invalid).toEqual([
      {
        line: 23,
        id: "plain",
        field: "interfaces[0].macAddress",
        message: expect.stringContaining("must be a MAC"),
      },
    ]);
  });

  it("names the BMC of a non-xname node <id>-bmc, and refuses a shared BMC with another MAC", () => {
    const p = parseImport(
      `nodes:
  - {name: n1, bmc_mac: "02:00:00:00:00:aa"}
  - {xname: x1c0s0b0n0, bmc_mac: "02:00:00:00:00:01"}
  - {xname: x1c0s0b0n1, bmc_mac: "02:00:00:00:00:02"}
  - {xname: x1c0s0b0n2, bmc_mac: "zz", group: "-bad-"}
`,
      "yaml",
    );
    expect(p.entries.map((e) => [e.id, e.component.type])).toEqual([
      ["n1-bmc", "NodeBMC"],
      ["n1", "Node"],
      ["x1c0s0b0", undefined],
      ["x1c0s0b0n0", undefined],
    ]);
    expect(p.invalid.map((e) => [e.line, e.field])).toEqual([
      [4, "bmc_mac"],
      [5, "group"],
      [5, "bmc_mac"],
    ]);
    expect(p.invalid[0]!.message).toContain("has MAC 02:00:00:00:00:01 on line 3");
  });

  it("reads the API's own shape and a bare list (JSON too), passing its fields on", () => {
    const api = parseImport(
      '{"components": [\n {"id": "s1", "type": "switch", "rack": "r1", "parentId": "x1"},\n {"id": "n9", "sub_role": "worker", "unit": "3"}\n]}',
      "json",
    );
    expect(api.entries.map((e) => [e.line, e.component])).toEqual([
      [2, { id: "s1", type: "Switch", rack: "r1", parentId: "x1" }],
      [3, { id: "n9", type: "Node", subRole: "Worker", unit: 3 }],
    ]);
    const list = parseImport("- id: a1\n  colour: red\n- 7\n- {type: Node}\n", "yaml");
    expect(list.entries).toEqual([]);
    expect(list.invalid.map((e) => [e.line, e.message])).toEqual([
      [1, expect.stringContaining("colour")],
      [3, "not a mapping (expected id: …, type: …)"],
      [4, "no id (give id, xname or name)"],
    ]);
  });

  it("finds the lines of JSON items and their interfaces without the YAML parser", () => {
    const text = `{
  "note": "a \\"quoted\\" [string] {with} brackets, and commas",
  "components": [
    {"id": "n1", "type": "Node", "interfaces": [
      {"macAddress": "02:00:00:00:00:01"},

      {"macAddress": "02:00:00:00:00:02", "ipAddresses": [{"ipAddress": "10.0.0.1"}]}
    ]},
    {
      "id": "n2", "type": "Node", "nid": 2, "enabled": true, "rack": null
    }
  ]
}`;
    const p = parseImport(text, "json");
    expect(p.invalid).toEqual([]);
    expect(p.entries.map((e) => [e.id, e.line, e.ifaceLines])).toEqual([
      ["n1", 4, [5, 7]],
      ["n2", 9, []],
    ]);
    expect(jsonLines('[1, {"a": [true, "x"]}]', (path) => path.length > 0)).toEqual(
      new Map([
        ["0", 1],
        ["1", 1],
        ["1/a", 1],
        ["1/a/0", 1],
        ["1/a/1", 1],
      ]),
    );
    // Not JSON after all: the YAML parser reads it, or says where it fails.
    expect(parseImport("components:\n  - id: y1\n", "json").entries[0]!.line).toBe(2);
    expect(fileError(() => parseImport('{"components": [\n  {"id": "a" "b"}\n]}', "json", "f.json"))).toMatch(
      /f\.json line 2: not valid JSON or YAML/,
    );
    expect(fileError(() => parseImport('{"components": 3}', "json", "f.json"))).toContain(
      "expected {components",
    );
  });

  it("refuses documents of another shape and YAML it cannot parse, with the line", () => {
    expect(fileError(() => parseImport("things: []\n", "yaml", "f.yaml"))).toContain("expected {components");
    expect(fileError(() => parseImport("a: [\n", "yaml", "f.yaml"))).toMatch(/f\.yaml line \d+: not valid/);
  });
});

describe("itemErrors", () => {
  const entry = (id: string, line: number, ifaceLines: number[] = []): Entry => ({
    id,
    line,
    ifaceLines,
    groups: [],
    component: { id },
  });
  const batch = [entry("a", 2), entry("b", 5, [7, 9]), entry("a", 12)];

  it("puts each of the API's item errors on its entry's line, references to other items too", () => {
    const r = itemErrors(batch, [
      { field: "components[2].id", message: "duplicate of components[0].id" },
      {
        field: "components[1].interfaces[1].macAddress",
        message: "x is also at components[1].interfaces[0]",
      },
      { field: "components", message: "too many" },
      { field: "components[9].id", message: "out of range" },
    ]);
    expect(r.rows).toEqual([
      { line: 12, id: "a", field: "id", message: "duplicate of id on line 2" },
      {
        line: 9,
        id: "b",
        field: "interfaces[1].macAddress",
        message: "x is also at interfaces[0] on line 7",
      },
    ]);
    expect([...r.failed]).toEqual([2, 1]);
    expect(r.unattributed.map((f) => f.field)).toEqual(["components", "components[9].id"]);
  });

  it("reads an item-level error with no field as the item", () => {
    const r = itemErrors(batch, [{ field: "components[0]", message: "bad" }]);
    expect(r.rows).toEqual([{ line: 2, id: "a", message: "bad" }]);
  });
});

describe("batches and progress", () => {
  it("slices", () => {
    expect(batches([1, 2, 3, 4, 5], 2)).toEqual([[1, 2], [3, 4], [5]]);
    expect(batches([], 3)).toEqual([]);
  });

  it("draws count/total, percentage, rate and failures within the width", () => {
    const line = progressLine({ done: 400, failed: 0, total: 1000, seconds: 0.5, columns: 60 });
    expect(line).toMatch(/^\[#+\.+\] 400\/1000 {2}40% {2}800\/s$/);
    expect(line.length).toBeLessThanOrEqual(60);
    expect(progressLine({ done: 9, failed: 1, total: 10, seconds: 0, columns: 200 })).toMatch(
      /^\[#{40}\] 10\/10 100% {2}0\/s {2}1 failed$/,
    );
    expect(progressLine({ done: 0, failed: 0, total: 0, seconds: 1 })).toContain("100%");
    expect(seconds(85.4)).toBe("85 ms");
    expect(seconds(1234)).toBe("1.2 s");
  });
});

describe("runSteps and its exit codes", () => {
  const ok = (name: string, status: "done" | "skipped" | "would" = "done"): Step => ({
    name,
    what: name,
    run: async (dry) => ({ status: dry ? "would" : status, detail: "" }),
  });
  const fail = (name: string, e: unknown): Step => ({
    name,
    what: name,
    run: async () => {
      throw e;
    },
  });
  const problem = (status: number) =>
    new ApiProblem(status, {
      title: "Validation failed",
      detail: "bad",
      errors: [{ field: "userData", message: "no header" }],
    });

  it("all done: ok, exit 0; dry run: would", async () => {
    const r = await runSteps("provision", "n1", [ok("a"), ok("b", "skipped")], false);
    expect(r).toMatchObject({ ok: true, dryRun: false, id: "n1" });
    expect(exitCodeOf(r)).toBe(0);
    expect(summaryLine(r, "provisioned")).toBe("n1 provisioned (1 of 2 steps changed something)");
    const dry = await runSteps("provision", "n1", [ok("a"), ok("b")], true);
    expect(dry.steps.map((s) => s.status)).toEqual(["would", "would"]);
    expect(summaryLine(dry, "provisioned")).toContain("dry run: 2 of 2 steps would change n1");
  });

  it("stops at the first failure: partial after a change (4), else 1, or 3 for 401/403", async () => {
    const partial = await runSteps("provision", "n1", [ok("a"), fail("b", problem(422)), ok("c")], false);
    expect(partial.steps.map((s) => s.status)).toEqual(["done", "failed", "skipped"]);
    expect(partial.steps[1]!.error).toEqual({
      status: 422,
      message: "HTTP 422 Validation failed: bad",
      errors: ["userData: no header"],
    });
    expect(partial.steps[1]!.detail).toBe("HTTP 422 Validation failed: bad; userData: no header");
    expect(partial.steps[2]!.detail).toBe("not run: step 2 (b) failed");
    expect(exitCodeOf(partial)).toBe(4);
    expect(summaryLine(partial, "provisioned")).toMatch(/^partial failure: step 2 \(b\) failed after 1 step/);

    const nothing = await runSteps("provision", "n1", [ok("a", "skipped"), fail("b", problem(409))], false);
    expect(exitCodeOf(nothing)).toBe(1);
    expect(summaryLine(nothing, "provisioned")).toBe("step 2 (b) failed; nothing was changed");
    expect(exitCodeOf(await runSteps("x", "n1", [fail("a", problem(403))], false))).toBe(3);
  });

  it("describes errors that are not the API's", () => {
    const unreachable = Object.assign(new TypeError("fetch failed"), { cause: { code: "ECONNREFUSED" } });
    expect(stepError(unreachable)).toEqual({ message: "cannot reach the control API: ECONNREFUSED" });
    expect(stepError(new Error("boom"))).toEqual({ message: "boom" });
    expect(stepError("str")).toEqual({ message: "str" });
  });

  it("says when nothing had to change", () => {
    const r: StepsReport = {
      command: "decommission",
      id: "n1",
      dryRun: false,
      ok: true,
      steps: [{ step: "a", what: "a", status: "skipped", detail: "" }],
    };
    expect(summaryLine(r, "decommissioned")).toBe("n1 was already decommissioned; nothing changed");
    expect(summaryLine({ ...r, dryRun: true }, "decommissioned")).toBe(
      "dry run: n1 is already decommissioned; nothing would change",
    );
  });
});

describe("node provision's plan", () => {
  it("pairs --mac with --ip by position", () => {
    expect(pairInterfaces(["AA-BB-CC-DD-EE-FF", "02:00:00:00:00:01"], ["10.0.0.1,10.1.0.1"])).toEqual([
      {
        macAddress: "aa:bb:cc:dd:ee:ff",
        ipAddresses: [{ ipAddress: "10.0.0.1" }, { ipAddress: "10.1.0.1" }],
      },
      { macAddress: "02:00:00:00:00:01" },
    ]);
    expect(pairInterfaces()).toEqual([]);
    expect(usageError(() => pairInterfaces(["x"]))).toContain("--mac 'x'");
    expect(usageError(() => pairInterfaces(["aabbccddeeff", "aa:bb:cc:dd:ee:ff"]))).toContain("twice");
    expect(usageError(() => pairInterfaces([], ["10.0.0.1"]))).toContain("1 --ip for 0 --mac");
  });

  it("creates with the given fields, the type an xname implies (else Node), and state Populated", () => {
    expect(componentCreateBody("x1000c0s0b0n0", { role: "Compute", nid: 3 }, [])).toEqual({
      id: "x1000c0s0b0n0",
      role: "Compute",
      nid: 3,
      state: "Populated",
    });
    expect(
      componentCreateBody("cn1", { subRole: "Worker", state: "Ready" }, [
        { macAddress: "02:00:00:00:00:01" },
      ]),
    ).toEqual({
      id: "cn1",
      type: "Node",
      subRole: "Worker",
      state: "Ready",
      interfaces: [{ macAddress: "02:00:00:00:00:01" }],
    });
    expect(typeLabel("x1000c0s0b0n0", undefined)).toBe("Node (from the xname)");
    expect(typeLabel("cn1", "NodeBMC")).toBe("NodeBMC");
  });

  it("updates only what differs; an Empty component becomes Populated unless --state says otherwise", () => {
    const current = { type: "Node", role: "Compute", nid: 1, state: "Ready" };
    expect(componentPatch(current, { role: "Compute", nid: 2 })).toEqual({ nid: 2 });
    expect(componentPatch(current, {})).toEqual({});
    expect(componentPatch({ ...current, state: "Empty" }, {})).toEqual({ state: "Populated" });
    expect(componentPatch({ ...current, state: "Empty" }, { state: "Off" })).toEqual({ state: "Off" });
    expect(describeFields({ nid: 2, role: null, x: "" })).toBe("nid: 2, role: (none), x: (none)");
  });

  it("decides per interface: create, set addresses, keep, or refuse a MAC of another component", () => {
    const cur = { id: "i1", componentId: "n1", macAddress: "m", ipAddresses: [{ ipAddress: "10.0.0.1" }] };
    expect(interfaceAction("n1", { macAddress: "m" }, undefined).kind).toBe("create");
    expect(interfaceAction("n1", { macAddress: "m" }, cur)).toEqual({ kind: "keep", id: "i1" });
    expect(
      interfaceAction("n1", { macAddress: "m", ipAddresses: [{ ipAddress: "10.0.0.1" }] }, cur).kind,
    ).toBe("keep");
    expect(
      interfaceAction("n1", { macAddress: "m", ipAddresses: [{ ipAddress: "10.0.0.2" }] }, cur).kind,
    ).toBe("set-ips");
    expect(interfaceAction("n2", { macAddress: "m" }, cur)).toEqual({
      kind: "taken",
      id: "i1",
      componentId: "n1",
      mac: "m",
    });
  });

  it("compares boot parameters and payloads field by field", () => {
    const bp = { kernelUri: "k", initrdUri: "", cmdline: "c" };
    expect(bootParamsChanges(bp, { ...bp })).toEqual([]);
    expect(bootParamsChanges(bp, { kernelUri: "k2", initrdUri: "i", cmdline: "c" })).toEqual([
      "kernelUri",
      "initrdUri",
    ]);
    const p = { userData: "#cloud-config\n", metaData: { b: 1, a: { y: 2, x: 1 } } };
    expect(payloadChanges(p, { metaData: { a: { x: 1, y: 2 }, b: 1 } })).toEqual([]);
    expect(payloadChanges(p, {})).toEqual([]);
    expect(payloadChanges(p, { userData: "#!/bin/sh\n", metaData: { b: 2 } })).toEqual([
      "userData",
      "metaData",
    ]);
    expect(payloadChanges({ userData: null, metaData: null }, { metaData: {} })).toEqual(["metaData"]);
  });
});
