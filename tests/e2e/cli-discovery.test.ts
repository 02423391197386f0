/**
 * `chamicore discovery` on its own, as a user runs it on a management
 * network: the real bin as a subprocess against emulated BMCs serving the
 * DMTF mockups, no control plane.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { type EmulatedBmc, startBmc } from "../support/bmc";
import { type CliHome, cliHome, type Doc } from "../support/cli";

let home: CliHome;
let rack: EmulatedBmc;
let blades: EmulatedBmc;
let pdu: EmulatedBmc;
const PASSWORD = { CHAMICORE_BMC_USERNAME: "admin", CHAMICORE_BMC_PASSWORD: "s3cret" };
const golden = (mockup: string) =>
  JSON.parse(readFileSync(join("tests/golden/redfish", `${mockup}.json`), "utf8")) as Doc;

beforeAll(async () => {
  home = cliHome();
  const opts = { username: "admin", password: "s3cret" };
  rack = await startBmc({ ...opts, mockup: "public-rackmount1" });
  blades = await startBmc({ ...opts, mockup: "public-bladed" });
  pdu = await startBmc({ ...opts, mockup: "public-pdu" });
});
afterAll(async () => {
  for (const b of [rack, blades, pdu]) await b?.close();
  home?.cleanup();
});

describe("chamicore discovery, standalone", () => {
  it("probes a BMC: what it is and what a scan would enrol, with the mockup's MACs", async () => {
    const r = await home.run(
      ["discovery", "probe", rack.url, "--map", `127.0.0.1=x1000c0s0b0`, "-o", "json"],
      {
        env: PASSWORD,
      },
    );
    expect(r.code, r.stderr).toBe(0);
    const doc = JSON.parse(r.stdout) as Doc;
    expect(doc).toMatchObject({ ok: true, id: "x1000c0s0b0", type: "NodeBMC", namedBy: "map" });
    const node = doc.components.find((c: Doc) => c.type === "Node");
    expect(node.id).toBe("x1000c0s0b0n0");
    // The same MACs the driver finds in the mockup (tests/golden/redfish).
    const expected = golden("public-rackmount1")
      .components.find((c: Doc) => c.type === "Node")
      .interfaces.map((i: Doc) => i.macAddress);
    expect(node.interfaces.map((i: Doc) => i.macAddress)).toEqual(expected);
    expect(expected.length).toBeGreaterThan(0);
  });

  it("scans several BMCs into one import file, named by a rule; the PDU adds no node", async () => {
    const file = join(home.dir, "rack.yaml");
    const r = await home.run(
      ["discovery", "scan", rack.url, blades.url, pdu.url, "--rule", "x{index+3000}c0s0b0", "--write", file],
      { env: PASSWORD },
    );
    // The bladed mockup's systems have no EthernetInterfaces: problems on stderr, exit 4 (partial).
    expect(r.code, r.stderr).toBe(4);
    expect(r.stderr).toMatch(
      /wrote \d+ components from 3 of 3 BMCs to .*rack\.yaml; enrol them with: chamicore import/,
    );
    expect(r.stderr).toContain(blades.url);
    const written = parse(readFileSync(file, "utf8")) as Doc;
    const ids = written.components.map((c: Doc) => c.id);
    expect(ids).toContain("x3000c0s0b0n0");
    expect(ids.filter((id: string) => id.startsWith("x3001c0s0b0n")).length).toBeGreaterThan(1);
    expect(ids.some((id: string) => id.startsWith("x3002c0s0b0n"))).toBe(false);
    expect(new Set(ids).size).toBe(ids.length);
    // What `chamicore import` takes: each item is a component with an id and a type.
    for (const c of written.components)
      expect(c).toMatchObject({ id: expect.any(String), type: expect.any(String) });
  });

  it("exits 3 when the BMC refuses the credentials, 1 when none answers, 2 without a password", async () => {
    const refused = await home.run(["discovery", "scan", rack.url], {
      env: { ...PASSWORD, CHAMICORE_BMC_PASSWORD: "wrong" },
    });
    expect(refused.code).toBe(3);
    expect(refused.stderr).toMatch(/401|credentials|unauthori[sz]ed/i);
    const down = await home.run(["discovery", "scan", "http://127.0.0.1:9", "--timeout", "1"], {
      env: PASSWORD,
    });
    expect(down.code).toBe(1);
    const none = await home.run(["discovery", "scan", rack.url]);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/CHAMICORE_BMC_PASSWORD|--password-file/);
  });

  it("reads the password from stdin and lists the drivers", async () => {
    const r = await home.run(
      ["discovery", "probe", rack.url, "--password-file", "-", "--username", "admin", "-o", "json"],
      { input: "s3cret\n" },
    );
    expect(r.code, r.stderr).toBe(0);
    const drivers = JSON.parse((await home.run(["discovery", "drivers", "-o", "json"])).stdout) as Doc;
    expect(drivers.map((d: Doc) => d.name)).toEqual(["redfish", "import"]);
    expect(drivers[0].options.properties).toHaveProperty("naming");
  });

  it("imports CSV and nodes.yaml files without a control plane: checked, merged, written, problems with file:line", async () => {
    const csv = join(home.dir, "rack1.csv");
    writeFileSync(
      csv,
      "xname,mac,ip,group\nx1000c0s0b0n0,AA-BB-CC-00-00-01,10.0.0.1,compute\nx1000c0s0b0n1,nope,,\n",
    );
    const nodes = join(home.dir, "nodes.yaml");
    writeFileSync(
      nodes,
      "nodes:\n  - name: x1000c0s1b0n0\n    bmc_mac: 02:00:00:00:00:01\n    bmc_ip: 10.1.0.1\n",
    );
    const out = join(home.dir, "rack.yaml");
    const r = await home.run(["discovery", "import", csv, nodes, "--write", out, "-o", "json"]);
    // One bad row: the rest is printed and written, and the exit code says some rows had problems.
    expect(r.code, r.stderr).toBe(4);
    expect(r.stderr).toContain("rack1.csv:3");
    expect(r.stderr).toContain("compute (1)");
    const printed = JSON.parse(r.stdout) as Doc;
    expect(printed.components.map((c: Doc) => c.id)).toEqual([
      "x1000c0s0b0n0",
      "x1000c0s1b0",
      "x1000c0s1b0n0",
    ]);
    expect(printed.components[0].interfaces).toEqual([
      { macAddress: "aa:bb:cc:00:00:01", ipAddresses: [{ ipAddress: "10.0.0.1" }] },
    ]);
    expect(parse(readFileSync(out, "utf8"))).toEqual({ components: printed.components });

    const stdin = await home.run(["discovery", "import", "-", "-o", "json"], {
      input: readFileSync(csv, "utf8"),
    });
    expect(stdin.code).toBe(4);
    expect(JSON.parse(stdin.stdout).components.map((c: Doc) => c.id)).toEqual(["x1000c0s0b0n0"]);
    const none = await home.run(["discovery", "import", "-", "--format", "yaml"], { input: "just text" });
    expect(none.code).toBe(1);
    expect(none.stderr).toMatch(/standard input: .*components/);
    const missing = await home.run(["discovery", "import", join(home.dir, "absent.csv")]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("cannot read");
  });
});
