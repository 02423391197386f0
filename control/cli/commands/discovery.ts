/**
 * `chamicore discovery probe|scan BMC…|import FILE…` on its own, with no
 * control plane: scan BMCs over Redfish from this machine (a laptop on the management
 * network, an edge host) and print or write what was found in the import
 * format, to review and then enrol with `chamicore import`. The driver is the edge agent's own
 * (functions/redfish/discovery.ts), so a scan here names and shapes
 * components exactly as a scan run by the control plane will.
 *
 * BMC passwords never go on the command line (where `ps` shows them):
 * CHAMICORE_BMC_PASSWORD, or --password-file (a file, or `-` for stdin).
 *
 * The same group holds discovery through the control API
 * (discovery-api.ts): `discovery target …`, `discovery scans …`, and
 * `discovery scan --target ID…`, which asks the control plane to scan
 * instead (exactly one of BMC addresses or --target).
 */
import { readFileSync, writeFileSync } from "node:fs";
import { extname } from "node:path";
import { stringify } from "yaml";
import type { Argv } from "yargs";
import type { BmcDiscovery } from "../../../functions/redfish/discovery";
import type { NamingOptions } from "../../../functions/redfish/naming";
import { type Cli, type GlobalOptions, run } from "../../../shared/node/cli/app";
import { CliError, EXIT } from "../../../shared/node/cli/errors";
import type { CommandModule } from "../groups";
import { readText } from "../input";
import { apiScan, discoveryApiCommands, namingMap, targetIdsOf } from "./discovery-api";

type ScanArgs = GlobalOptions & {
  bmc: string[];
  username?: string;
  "password-file"?: string;
  auth?: "basic" | "session";
  insecure?: boolean;
  map?: string[];
  rule?: string;
  write?: string;
  timeout?: number;
};

/** `discovery scan`: BMC addresses (standalone), or --target (through the control API). */
type ScanCommandArgs = Omit<ScanArgs, "bmc"> & {
  bmc?: string[];
  target?: string | string[];
  "dry-run"?: boolean;
  wait?: boolean;
};

/** Flags that only a standalone scan reads (a target keeps its own naming, credential and TLS). */
const STANDALONE_ONLY = ["username", "password-file", "auth", "insecure", "map", "rule", "write"] as const;

/** Defaults of the standalone scan's flags (not yargs defaults: with --target they must stay unset). */
const DEFAULT_AUTH = "basic";
const DEFAULT_TIMEOUT_S = 30;

/** One BMC's outcome: what it gave, or why it gave nothing. */
interface Scanned {
  bmc: string;
  discovery?: BmcDiscovery;
  error?: { kind: string; message: string };
}

/** `10.1.3.17` → https://10.1.3.17; URLs stay as given (without a path). */
export function bmcUrl(given: string): URL {
  const url = new URL(/^[a-z]+:\/\//i.test(given) ? given : `https://${given}`);
  if (url.protocol !== "https:" && url.protocol !== "http:")
    throw new CliError(EXIT.usage, `${given}: a BMC is reached over https:// (or http://)`);
  return url;
}

function password(cli: Cli, a: ScanArgs): string {
  if (a["password-file"] !== undefined) {
    const text =
      a["password-file"] === "-"
        ? readFileSync(0, "utf8")
        : (() => {
            try {
              return readFileSync(a["password-file"]!, "utf8");
            } catch (e) {
              throw new CliError(EXIT.usage, `cannot read --password-file: ${(e as Error).message}`);
            }
          })();
    return text.replace(/\r?\n$/, "");
  }
  const fromEnv = cli.env.CHAMICORE_BMC_PASSWORD;
  if (fromEnv === undefined)
    throw new CliError(
      EXIT.usage,
      "no BMC password: set CHAMICORE_BMC_PASSWORD or give --password-file FILE ('-' reads stdin)",
    );
  return fromEnv;
}

function naming(a: ScanArgs): NamingOptions | undefined {
  const map = namingMap(a.map ?? []);
  if (!a.map?.length && !a.rule) return undefined;
  return { ...(a.map?.length ? { map } : {}), ...(a.rule ? { rule: a.rule } : {}) };
}

async function scan(cli: Cli, a: ScanArgs): Promise<Scanned[]> {
  // Loaded when a scan runs: the API's schemas come with the driver.
  const [{ RedfishClient }, { discoverBmc }, { NamingSchema }, errors] = await Promise.all([
    import("../../../functions/node/redfish/client"),
    import("../../../functions/redfish/discovery"),
    import("../../../functions/redfish/naming"),
    import("../../../functions/redfish/errors"),
  ]);
  const checked = NamingSchema.optional().safeParse(naming(a));
  if (!checked.success)
    throw new CliError(
      EXIT.usage,
      checked.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "),
    );
  const credentials = {
    username: a.username ?? cli.env.CHAMICORE_BMC_USERNAME ?? "root",
    password: password(cli, a),
  };
  const urls = a.bmc.map(bmcUrl);
  const out: Scanned[] = [];
  // A handful at a time: BMCs are slow and some fall over under parallel sessions.
  for (let i = 0; i < urls.length; i += 8) {
    const batch = urls.slice(i, i + 8).map(async (url, k): Promise<Scanned> => {
      const client = new RedfishClient({
        baseUrl: url.origin,
        credentials,
        auth: a.auth ?? DEFAULT_AUTH,
        insecure: a.insecure,
        timeoutMs: (a.timeout ?? DEFAULT_TIMEOUT_S) * 1000,
      });
      try {
        // The service root answers anyone (as on real BMCs): ask for something behind the
        // credentials first, so that wrong ones are one clear error and not a scan of problems.
        await client.get("/redfish/v1/Managers");
        const discovery = await discoverBmc(client, {
          address: url.hostname,
          index: i + k,
          naming: checked.data,
        });
        return { bmc: url.origin, discovery };
      } catch (e) {
        const kind =
          e instanceof errors.RedfishUnauthorized
            ? "unauthorized"
            : e instanceof errors.RedfishUnreachable
              ? "unreachable"
              : "failed";
        return { bmc: url.origin, error: { kind, message: (e as Error).message } };
      } finally {
        await client.close();
      }
    });
    out.push(...(await Promise.all(batch)));
  }
  return out;
}

/** Every component once (a chassis shared by several BMCs comes from the first), in scan order. */
function merged(results: Scanned[]) {
  const seen = new Set<string>();
  const components = [];
  for (const r of results)
    for (const c of r.discovery?.components ?? [])
      if (c.id && !seen.has(c.id)) {
        seen.add(c.id);
        components.push(c);
      }
  return components;
}

const problemsOf = (results: Scanned[]) =>
  results.flatMap((r) => [
    ...(r.error ? [{ bmc: r.bmc, path: "/redfish/v1", message: r.error.message }] : []),
    ...(r.discovery?.problems ?? []).map((p) => ({ bmc: r.bmc, ...p })),
  ]);

/** 0 all found; 3 every BMC refused the credentials; 1 none answered; 4 some did not, or problems. */
function exitCode(results: Scanned[]) {
  const failed = results.filter((r) => r.error);
  if (failed.length === results.length)
    return failed.every((r) => r.error!.kind === "unauthorized") ? EXIT.auth : EXIT.failed;
  return failed.length || problemsOf(results).length ? EXIT.partial : EXIT.ok;
}

function report(cli: Cli, results: Scanned[], code = exitCode(results)) {
  for (const p of problemsOf(results)) cli.io.stderr.write(`${p.bmc}${p.path}: ${p.message}\n`);
  cli.exitCode = code;
}

const macsOf = (c: { interfaces?: { macAddress: string }[] }) =>
  (c.interfaces ?? []).map((i) => i.macAddress).join(" ");

type ImportArgs = GlobalOptions & { file: string[]; format?: "csv" | "json" | "yaml"; write?: string };

/** `discovery import`: the import driver over files, merged in order (a repeated id keeps the first). */
async function importFiles(cli: Cli, a: ImportArgs) {
  const { importDriver } = await import("../../../functions/redfish/drivers");
  const components: BmcDiscovery["components"] = [];
  const seen = new Set<string>();
  const problems: { path: string; message: string }[] = [];
  const groups = new Map<string, number>();
  // yargs drops a `-` from a variadic positional (yargs-parser reads it as a flag without a
  // name), so a lone `-` arrives as no file at all: standard input.
  const files = a.file.length === 0 ? ["-"] : a.file.map((f) => (f === "" ? "-" : f));
  for (const file of files) {
    const text = readText(file, cli.io.stdin);
    const found = importDriver(text, a.format, file === "-" ? "standard input" : file);
    problems.push(...found.problems);
    for (const c of found.components) {
      if (c.id && seen.has(c.id)) {
        problems.push({ path: file, message: `${c.id} is listed again; the first one is kept` });
        continue;
      }
      if (c.id) seen.add(c.id);
      components.push(c);
    }
    for (const [g, members] of Object.entries(found.groups))
      groups.set(g, (groups.get(g) ?? 0) + members.length);
  }
  if (a.write && components.length > 0) {
    const doc = { components };
    const yaml = [".yaml", ".yml"].includes(extname(a.write).toLowerCase());
    writeFileSync(a.write, yaml ? stringify(doc, { lineWidth: 0 }) : `${JSON.stringify(doc, null, 2)}\n`);
    cli.io.stderr.write(
      `wrote ${components.length} components to ${a.write}; enrol them with: chamicore import ${a.write}\n`,
    );
  }
  const printer = cli.printer(a);
  printer.print(printer.format === "table" ? { items: components } : { components, problems }, [
    ["ID", (c) => (c as { id: string }).id],
    ["TYPE", (c) => (c as { type?: string }).type ?? ""],
    ["STATE", (c) => (c as { state?: string }).state ?? ""],
    ["PARENT", (c) => (c as { parentId?: string }).parentId ?? ""],
    ["MACS", (c) => macsOf(c as { interfaces?: { macAddress: string }[] })],
  ]);
  for (const p of problems) cli.io.stderr.write(`${p.path}: ${p.message}\n`);
  if (groups.size > 0)
    cli.io.stderr.write(
      `groups in the files (not in the import format; chamicore import creates them): ${[...groups].map(([g, n]) => `${g} (${n})`).join(", ")}\n`,
    );
  cli.exitCode = components.length === 0 ? EXIT.failed : problems.length > 0 ? EXIT.partial : EXIT.ok;
}

async function probe(cli: Cli, a: ScanArgs) {
  const results = await scan(cli, a);
  const r = results[0]!;
  const d = r.discovery;
  cli.printer(a).print(
    {
      bmc: r.bmc,
      ok: !r.error,
      error: r.error,
      id: d?.bmc.id,
      type: d?.bmc.type,
      namedBy: d?.bmc.namedBy,
      redfishVersion: d?.bmc.redfishVersion,
      manager: d?.bmc.manager,
      components: d?.components ?? [],
      problems: problemsOf(results),
    },
    [
      ["BMC", () => r.bmc],
      ["ID", () => d?.bmc.id ?? ""],
      ["TYPE", () => d?.bmc.type ?? ""],
      ["NAMED BY", () => d?.bmc.namedBy ?? ""],
      ["REDFISH", () => d?.bmc.redfishVersion ?? ""],
      [
        "COMPONENTS",
        () => (d ? d.components.map((c) => `${c.id} (${c.type})`).join(", ") : r.error!.message),
      ],
    ],
  );
  // A probe that read the BMC succeeded; what a scan would find fault with is shown on stderr.
  report(cli, results, r.error ? exitCode(results) : EXIT.ok);
}

async function scanAll(cli: Cli, a: ScanArgs) {
  const results = await scan(cli, a);
  const components = merged(results);
  if (a.write) {
    // The file is what `chamicore import` reads: {components: [...]}, YAML by its name, else JSON.
    const doc = { components };
    const yaml = [".yaml", ".yml"].includes(extname(a.write).toLowerCase());
    writeFileSync(a.write, yaml ? stringify(doc, { lineWidth: 0 }) : `${JSON.stringify(doc, null, 2)}\n`);
    cli.io.stderr.write(
      `wrote ${components.length} components from ${results.filter((r) => r.discovery).length} of ${results.length} BMCs to ${a.write}; enrol them with: chamicore import ${a.write}\n`,
    );
  }
  const printer = cli.printer(a);
  // A table lists the components; JSON and YAML carry the BMCs and problems too.
  printer.print(
    printer.format === "table"
      ? { items: components }
      : {
          components,
          bmcs: results.map((r) => ({ bmc: r.bmc, id: r.discovery?.bmc.id, error: r.error })),
          problems: problemsOf(results),
        },
    [
      ["ID", (c) => (c as { id: string }).id],
      ["TYPE", (c) => (c as { type: string }).type],
      ["STATE", (c) => (c as { state?: string }).state ?? ""],
      ["PARENT", (c) => (c as { parentId?: string }).parentId ?? ""],
      ["MACS", (c) => macsOf(c as { interfaces?: { macAddress: string }[] })],
    ],
  );
  report(cli, results);
}

const SCAN_OPTIONS = <T>(y: Argv<T>) =>
  y
    .option("username", {
      type: "string",
      describe: "BMC user (CHAMICORE_BMC_USERNAME; default root)",
    })
    .option("password-file", {
      type: "string",
      describe: "file holding the BMC password ('-' reads stdin); else CHAMICORE_BMC_PASSWORD",
    })
    .option("auth", {
      choices: ["basic", "session"] as const,
      describe: "HTTP Basic on every request (default), or a Redfish session",
    })
    .option("insecure", {
      type: "boolean",
      describe: "accept any TLS certificate from the BMCs (most ship a self-signed one)",
    })
    .option("map", {
      type: "string",
      array: true,
      describe: "ADDRESS=XNAME: what to call the BMC at ADDRESS (repeatable)",
    })
    .option("rule", {
      type: "string",
      describe:
        "xname template for BMCs --map does not name, e.g. x{c+1000}c0s{d-100}b0 ({a}-{d}: IPv4 octets, {index})",
    })
    .option("timeout", { type: "number", describe: "seconds per request to a BMC (default 30)" });

/** `discovery scan`: exactly one of BMC addresses (standalone) and --target (the control plane scans). */
async function scanCommand(cli: Cli, a: ScanCommandArgs): Promise<void> {
  const bmcs = (a.bmc ?? []).map(String);
  const targets = targetIdsOf(a.target);
  if (bmcs.length && targets.length)
    throw new CliError(
      EXIT.usage,
      "give BMC addresses (a standalone scan) or --target (a scan by the control plane), not both",
    );
  if (!bmcs.length && !targets.length)
    throw new CliError(
      EXIT.usage,
      "say what to scan: BMC addresses (standalone), or --target ID (a target the control plane scans)",
    );
  if (targets.length) {
    const local = STANDALONE_ONLY.find((f) => a[f] !== undefined);
    if (local)
      throw new CliError(
        EXIT.usage,
        `--${local} is for a standalone scan; with --target the target's own settings apply (chamicore discovery target update)`,
      );
    return apiScan(cli, { ...a, targets, dryRun: a["dry-run"], wait: a.wait });
  }
  const remote = (["dry-run", "wait"] as const).find((f) => a[f]);
  if (remote)
    throw new CliError(
      EXIT.usage,
      `--${remote} goes with --target (a scan by the control plane); a standalone scan writes only --write`,
    );
  return scanAll(cli, { ...a, bmc: bmcs });
}

const DESCRIBE =
  "find hardware: scan BMCs over Redfish (standalone, or by the control plane: targets, scans), list drivers";

export const discoveryCommands: CommandModule = (y: Argv, cli: Cli) =>
  y.command("discovery", DESCRIBE, (d) =>
    discoveryApiCommands(d, cli)
      .command(
        "probe <bmc>",
        "read one BMC and show what it is and what a scan would enrol from it",
        (c) =>
          SCAN_OPTIONS(c)
            .positional("bmc", { type: "string", describe: "the BMC: https://host[:port] or an address" })
            .example(
              "CHAMICORE_BMC_PASSWORD=… $0 discovery probe 10.1.3.17 --insecure",
              "one BMC, its self-signed certificate accepted",
            )
            .example(
              "$0 discovery probe https://bmc1 --password-file - -o json < pw",
              "the password from stdin, the answer as JSON",
            ),
        run<ScanArgs & { bmc: string }>((a) => probe(cli, { ...a, bmc: [a.bmc] })),
      )
      .command(
        "scan [bmc..]",
        "scan BMCs and print (or --write) their components in the import format, without a control plane; or, with --target, have the control plane scan targets into the inventory",
        (c) =>
          SCAN_OPTIONS(c)
            .usage(
              "$0 discovery scan <bmc..> [--map A=X…] [--rule T] [--write FILE]\n" +
                "$0 discovery scan --target <id> [--target <id>…] [--dry-run] [--wait [--timeout s]]\n\n" +
                "Standalone: scans the BMCs from this machine and prints what it found. With --target: the " +
                "control plane scans the targets (discovery target create) and merges what it finds into the " +
                "inventory; --wait follows the scan like 'discovery scans wait'.",
            )
            .positional("bmc", {
              type: "string",
              array: true,
              describe: "BMCs: https://host[:port] or addresses (standalone scan)",
            })
            .option("target", {
              type: "string",
              describe: "a discovery target for the control plane to scan (repeatable, or comma-separated)",
            })
            .option("dry-run", {
              type: "boolean",
              describe: "with --target: scan, and report what would be created and updated without writing",
            })
            .option("wait", {
              type: "boolean",
              describe: "with --target: follow the scan until it is final, then show each address's result",
            })
            .option("timeout", {
              type: "number",
              describe:
                "standalone: seconds per request to a BMC (default 30); with --target --wait: give up waiting after this many seconds",
            })
            .option("write", {
              type: "string",
              describe:
                "also write {components: [...]} to FILE (YAML for .yaml/.yml, else JSON) for chamicore import",
            })
            .example(
              "$0 discovery scan 10.1.3.17 10.1.3.18 --map 10.1.3.17=x1000c0s0b0 --map 10.1.3.18=x1000c0s1b0 --write rack.yaml",
              "two BMCs named by a map, written for `chamicore import rack.yaml`",
            )
            .example(
              "$0 discovery scan $(seq -f 10.1.3.%g 100 131) --rule 'x{c+1000}c0s{d-100}b0' --insecure",
              "a rack of 32 BMCs named by their addresses",
            )
            .example(
              "$0 discovery scan --target rack1 --wait",
              "the control plane scans rack1 into the inventory",
            )
            .example(
              "$0 discovery scan --target rack1 --target rack2 --dry-run --wait -o json",
              "what a scan would create and update, writing nothing",
            )
            .epilogue(
              "Exit codes, standalone: 0 every BMC scanned without a problem; 4 some BMCs failed or reported problems (on stderr); 1 none answered; 3 every BMC refused the credentials; 2 usage.\n" +
                "With --target --wait: 0 every address scanned; 4 some address failed, or the scan failed or was cancelled (stderr names each); 1 the API refused, or --timeout passed first (the scan goes on); 3 not allowed; 2 usage.",
            ),
        run<ScanCommandArgs>((a) => scanCommand(cli, a)),
      )
      .command(
        "import <file..>",
        "read components from CSV, JSON, YAML or OpenCHAMI nodes.yaml files (the import driver), check them, and print (or --write) them in the import format, without a control plane",
        (c) =>
          c
            .positional("file", {
              type: "string",
              array: true,
              describe: "files to read (a lone '-' reads standard input)",
            })
            .option("format", {
              choices: ["csv", "json", "yaml"] as const,
              describe: "the files' format (default: by extension, else by content)",
            })
            .option("write", {
              type: "string",
              describe: "also write {components: [...]} to FILE (YAML for .yaml/.yml, else JSON)",
            })
            .example(
              "$0 discovery import nodes.yaml --write rack.json",
              "an OpenCHAMI nodes.yaml, checked and converted",
            )
            .example("$0 discovery import rack1.csv rack2.csv -o json", "two CSV files as one list, as JSON")
            .epilogue(
              "Exit codes: 0 every row usable; 4 some rows have problems (on stderr, with file:line); 1 nothing usable; 2 usage. Groups named in the files are listed on stderr: `chamicore import FILE` creates them with the components.",
            ),
        run<ImportArgs>((a) => importFiles(cli, a)),
      )
      .command(
        "drivers",
        "list the discovery drivers and their options",
        (c) => c.example("$0 discovery drivers -o json", "the drivers with their options as JSON Schema"),
        run<GlobalOptions>(async (a) => {
          const { describeDrivers } = await import("../../../functions/redfish/drivers");
          const drivers = describeDrivers();
          cli.printer(a).print(drivers, [
            ["NAME", (d) => (d as { name: string }).name],
            ["DESCRIPTION", (d) => (d as { description: string }).description],
          ]);
        }),
      )
      .example("$0 discovery probe 10.1.3.17 --insecure", "what one BMC is and what a scan would enrol")
      .example(
        "$0 discovery scan 10.1.3.17 10.1.3.18 --write rack.yaml",
        "scan, then: chamicore import rack.yaml",
      )
      .example(
        "$0 discovery target create --id rack1 --address 10.1.3.100-131 --credential bmc-east --rule 'x{c+1000}c0s{d-100}b0'",
        "a target for the control plane to scan",
      )
      .example("$0 discovery scan --target rack1 --wait", "the control plane scans it into the inventory")
      .demandCommand(1, "say which discovery command (chamicore discovery --help lists them)"),
  );
