/**
 * Discovery through the control API (docs/discovery.md): `discovery target
 * list|get|create|update|delete` for what to scan and with which credential,
 * `discovery scans list|get|cancel|wait` for scan records, and `discovery
 * scan --target ID… [--dry-run] [--wait]` (registered by discovery.ts,
 * beside the standalone scan) to start one. The control plane's agent runs
 * the scan and merges what it finds into the inventory; the CLI only asks
 * and follows.
 *
 * `update` sends the flags, -f and --set as one JSON Merge Patch (null
 * resets a field; options merge key by key); the control plane applies it
 * to the target as it is then, so nothing someone else changed meanwhile is
 * overwritten. Address ranges (10.1.3.100-131) go as written: the API
 * spells them out.
 */
import type { Argv, Options } from "yargs";
import { type ApiClient, type Schemas, unwrap } from "../../../shared/client";
import { applyMergePatch } from "../../../shared/http/merge-patch";
import { type Cli, type GlobalOptions, run } from "../../../shared/node/cli/app";
import { CliError, EXIT, type ExitCode } from "../../../shared/node/cli/errors";
import type { Column } from "../../../shared/node/cli/output";
import { type Args, filter, idColumn, sortFilter } from "../groups";
import { readDocument, setPairs } from "../input";
import { loose, resourceCommand } from "../resource";
import { followUntilFinal, progressOn } from "../workflows/follow";

const TARGETS = "/discovery/v1/targets";
const SCANS = "/discovery/v1/scans";

type Scan = Schemas["DiscoveryScan"];
type ScanSpec = Schemas["DiscoveryScanSpec"];
type AddressResult = Schemas["DiscoveryAddressResult"];
type Obj = Record<string, unknown>;

/** Scan states after which nothing changes any more. */
const FINAL: readonly ScanSpec["state"][] = ["completed", "failed", "cancelled"];
const SCAN_STATES: readonly ScanSpec["state"][] = ["new", "running", ...FINAL];

/** A repeatable flag's values, each also split at commas. */
const listOf = (v: unknown): string[] =>
  v === undefined
    ? []
    : [v]
        .flat()
        .flatMap((s) => String(s).split(","))
        .map((s) => s.trim())
        .filter(Boolean);

/** `--map 10.1.3.17=x1000c0s0b0 …` as a naming map; a pair without `=` is a usage error. */
export function namingMap(pairs: readonly string[]): Record<string, string> {
  const map: Record<string, string> = {};
  for (const pair of pairs) {
    const at = pair.indexOf("=");
    if (at < 1)
      throw new CliError(EXIT.usage, `--map ${pair}: say ADDRESS=XNAME, e.g. 10.1.3.17=x1000c0s0b0`);
    map[pair.slice(0, at)] = pair.slice(at + 1);
  }
  return map;
}

const isObj = (v: unknown): v is Obj => typeof v === "object" && v !== null && !Array.isArray(v);

// ---------- targets ----------

/** A target's flags; only those given become fields (options nest under `options`). */
function targetFlags(a: Args): Obj {
  const given = (flag: string, field: string, value: unknown = a[flag]) =>
    a[flag] === undefined ? {} : { [field]: value };
  const naming = {
    ...given("map", "map", namingMap(listOf(a.map))),
    ...given("rule", "rule"),
  };
  const options = {
    ...(Object.keys(naming).length ? { naming } : {}),
    ...given("auth", "auth"),
    ...given("insecure", "insecure"),
  };
  return {
    ...given("name", "name"),
    ...given("address", "addresses", listOf(a.address)),
    ...given("schedule", "schedule", Number(a.schedule) > 0 ? { everyMinutes: Number(a.schedule) } : null),
    ...given("credential", "credentialId"),
    ...given("site", "site"),
    ...given("driver", "driver"),
    ...(Object.keys(options).length ? { options } : {}),
  };
}

/** -f, then the flags, then --set, as one merge patch. */
function patchOf(cli: Cli, a: Args): Obj {
  const file = a.file === undefined ? {} : readDocument(String(a.file), cli.io.stdin);
  if (!isObj(file)) throw new CliError(EXIT.usage, `${a.file} must hold one object (a target)`);
  const flags = targetFlags(a);
  // Merged, not applied: a null in the file or --set must survive to reset the target's field.
  const merge = (x: Obj, y: Obj): Obj => {
    const out = { ...x };
    for (const [k, v] of Object.entries(y)) out[k] = isObj(v) && isObj(out[k]) ? merge(out[k] as Obj, v) : v;
    return out;
  };
  const sets = a.set === undefined ? undefined : [a.set].flat().map(String);
  return merge(merge(file, flags), setPairs(sets));
}

const TARGET_FIELDS: Record<string, Options> = {
  name: { type: "string", describe: "a label for people" },
  address: {
    type: "string",
    describe:
      "a BMC: https://host[:port], http://host:port or host[:port] (https), or a last-octet range " +
      "like 10.1.3.100-131 (repeatable, or comma-separated; on update the list replaces the target's)",
  },
  credential: { type: "string", describe: "device credential (type redfish) that logs in to the BMCs" },
  site: {
    type: "string",
    describe: "edge site that reaches the BMCs (default: the control plane's agent; --set site=null resets)",
  },
  driver: { type: "string", choices: ["redfish"], describe: "discovery driver (default redfish)" },
  map: {
    type: "string",
    describe:
      "ADDRESS=XNAME (or MAC=XNAME): what to call that BMC (repeatable; on update, entries are added)",
  },
  rule: {
    type: "string",
    describe:
      "xname template for BMCs --map does not name, e.g. x{c+1000}c0s{d-100}b0 ({a}-{d}: IPv4 octets, {index}: position in --address)",
  },
  auth: {
    type: "string",
    choices: ["basic", "session"],
    describe: "HTTP Basic on every request (default), or a Redfish session",
  },
  insecure: {
    type: "boolean",
    describe: "accept any TLS certificate from the BMCs (--no-insecure: verify, the default)",
  },
  file: { alias: "f", type: "string", describe: "JSON or YAML target document ('-' reads stdin)" },
  set: { type: "string", describe: "field=value (repeatable; dotted keys nest, e.g. options.naming.rule=…)" },
  schedule: {
    type: "number",
    describe: "scan the target by itself every MINUTES (the first scan at once); 0 removes the schedule",
  },
  "dry-run": { type: "boolean", describe: "print the document that would be sent; send nothing" },
};

/** Spec fields of a row, whether an API document (`{spec}`) or a body about to be sent. */
const specOf = (r: unknown): Obj => ((r as { spec?: Obj }).spec ?? (r as Obj)) as Obj;
const field = (header: string, f: (s: Obj) => unknown): Column => [header, (r) => f(specOf(r))];
const optionsOf = (s: Obj) => (isObj(s.options) ? s.options : {}) as Obj;

/** At most three addresses; more are counted. */
const briefList = (v: unknown) => {
  const xs = Array.isArray(v) ? v.map(String) : [];
  return xs.length <= 3 ? xs.join(",") : `${xs.slice(0, 2).join(",")} (+${xs.length - 2})`;
};

const namingText = (s: Obj) => {
  const naming = optionsOf(s).naming as { map?: Obj; rule?: string } | undefined;
  const mapped = Object.keys(naming?.map ?? {}).length;
  return [mapped ? `${mapped} mapped` : "", naming?.rule ?? ""].filter(Boolean).join(", ");
};

const TARGET_COLUMNS: Column[] = [
  field("ID", (s) => s.id),
  field("NAME", (s) => s.name),
  field("ADDRESSES", (s) => briefList(s.addresses)),
  field("CREDENTIAL", (s) => s.credentialId),
  field("SITE", (s) => s.site),
  field("AUTH", (s) => optionsOf(s).auth),
  field("INSECURE", (s) => optionsOf(s).insecure),
  field("NAMING", namingText),
  field("SCHEDULE", (s) => {
    const every = (s.schedule as { everyMinutes?: number } | null | undefined)?.everyMinutes;
    return every ? `every ${every} min (next ${s.nextScanAt ?? "?"})` : "";
  }),
];

const FLAG_OF: Record<string, string> = { id: "--id", addresses: "--address", credentialId: "--credential" };

async function createTarget(cli: Cli, a: Args): Promise<void> {
  // Applied to nothing: a null in the file or --set simply leaves the field out.
  const body = applyMergePatch(
    {},
    {
      ...patchOf(cli, a),
      ...(a.id !== undefined ? { id: String(a.id) } : {}),
    },
  ) as Obj;
  const missing = Object.keys(FLAG_OF).filter((k) => body[k] === undefined);
  if (missing.length)
    throw new CliError(
      EXIT.usage,
      `a target needs ${missing.map((k) => FLAG_OF[k]).join(", ")} (as flags or in -f FILE)`,
    );
  const printer = cli.printer(a);
  if (a["dry-run"]) {
    printer.err(`dry run: would POST ${TARGETS} with this document; nothing was sent`);
    printer.print(body, TARGET_COLUMNS);
    return;
  }
  const { data } = await unwrap(loose(cli.session(a).client).POST(TARGETS, { body }));
  printer.print(data, TARGET_COLUMNS);
}

async function updateTarget(cli: Cli, a: Args): Promise<void> {
  const patch = patchOf(cli, a);
  if (Object.keys(patch).length === 0)
    throw new CliError(EXIT.usage, "nothing to change: give -f, --set or a field flag");
  const api = loose(cli.session(a).client);
  const one = { params: { path: { id: String(a.id) } } };
  const printer = cli.printer(a);
  if (a["dry-run"]) {
    // What the control plane would make of it, from the target as it is now.
    const { data, response } = await unwrap(api.GET(`${TARGETS}/{id}`, one));
    const etag = response.headers.get("ETag") ?? "*";
    printer.err(
      `dry run: would PATCH ${TARGETS}/${a.id} (as of If-Match: ${etag}) with ${JSON.stringify(patch)}; the target would become this; nothing was sent`,
    );
    printer.print(applyMergePatch(specOf(data), patch), TARGET_COLUMNS);
    return;
  }
  const { data } = await unwrap(
    api.PATCH(`${TARGETS}/{id}`, {
      ...one,
      body: patch,
      headers: { "Content-Type": "application/merge-patch+json" },
    }),
  );
  printer.print(data, TARGET_COLUMNS);
}

const writeCommands = (g: Argv, cli: Cli): Argv =>
  g
    .command(
      "create",
      "create a target: BMC addresses, the credential that logs in, naming and site",
      (c) =>
        c
          .options(TARGET_FIELDS)
          .option("id", { type: "string", describe: "the target's id (e.g. rack1)" })
          .example(
            "$0 discovery target create --id rack1 --address 10.1.3.100-131 --credential bmc-east --rule 'x{c+1000}c0s{d-100}b0' --insecure",
            "a rack of 32 BMCs named by their addresses",
          )
          .example(
            "$0 discovery target create --id lab --address https://bmc1 --address bmc2:8443 --credential lab --map bmc1=x1000c0s0b0 --map bmc2=x1000c0s1b0",
            "two BMCs, each named by a map entry",
          )
          .example(
            "$0 discovery target create -f rack1.yaml --dry-run",
            "show what would be sent, send nothing",
          ),
      run<Args>((a) => createTarget(cli, a)),
    )
    .command(
      "update <id>",
      "change fields of a target (a merge patch on what it is now: null resets a field; guarded by its ETag)",
      (c) =>
        c
          .positional("id", { type: "string", describe: "target id" })
          .options(TARGET_FIELDS)
          .example("$0 discovery target update rack1 --address 10.1.3.100-147", "a new address list")
          .example("$0 discovery target update rack1 --map 10.1.3.140=x1003c0s40b1", "add a map entry")
          .example(
            "$0 discovery target update rack1 --set site=null --dry-run",
            "the document it would send",
          ),
      run<Args>((a) => updateTarget(cli, a)),
    );

// ---------- scans ----------

/** Addresses of the scan's targets as they are now, or undefined when that cannot be known. */
async function addressTotal(api: ApiClient, spec: ScanSpec): Promise<number | undefined> {
  try {
    const { data } = await unwrap(
      loose(api).GET(TARGETS, { params: { query: { id: spec.targetIds.join(","), limit: 1000 } } }),
    );
    const items = (data as { items: { spec?: { addresses?: unknown[] } }[] }).items;
    if (items.length !== spec.targetIds.length) return undefined;
    return items.reduce((n, t) => n + (t.spec?.addresses?.length ?? 0), 0);
  } catch {
    return undefined;
  }
}

/** `3/32 addresses done, 1 failed` (the total as the targets say, when known). */
export function scanProgress(spec: ScanSpec, total?: number): string {
  const results = spec.results ?? [];
  const done = results.length;
  const failed = results.filter((r) => r.state === "failed").length;
  const cancelled = results.filter((r) => r.state === "cancelled").length;
  const parts = [
    total === undefined ? `${done} addresses done` : `${done}/${Math.max(total, done)} addresses done`,
  ];
  if (failed) parts.push(`${failed} failed`);
  if (cancelled) parts.push(`${cancelled} cancelled`);
  return parts.join(", ");
}

/** 0 when the scan completed and every address is ok; 4 when an address failed, or the scan failed or was cancelled. */
export function scanExit(spec: ScanSpec): ExitCode {
  if (spec.state !== "completed") return EXIT.partial;
  return (spec.results ?? []).every((r) => r.state === "ok") ? EXIT.ok : EXIT.partial;
}

/** What went wrong, a line each, for stderr: failed addresses, then the driver's problems. */
function scanReport(spec: ScanSpec): string[] {
  const results = spec.results ?? [];
  const lines = results
    .filter((r) => r.state !== "ok")
    .map((r) => `${r.address} (target ${r.targetId}): ${r.state}${r.error ? `: ${r.error}` : ""}`);
  for (const r of results) for (const p of r.problems) lines.push(`${r.address}${p.path}: ${p.message}`);
  if (spec.state !== "completed" && FINAL.includes(spec.state))
    lines.push(`scan ${spec.id} ${spec.state}${spec.message ? `: ${spec.message}` : ""}`);
  return lines;
}

const count = (xs: unknown[]) => (xs.length ? xs.length : "");
const RESULT_COLUMNS: Column[] = [
  ["TARGET", (r) => (r as AddressResult).targetId],
  ["ADDRESS", (r) => (r as AddressResult).address],
  ["STATE", (r) => (r as AddressResult).state],
  ["BMC", (r) => (r as AddressResult).bmcId],
  ["CREATED", (r) => (r as AddressResult).created],
  ["UPDATED", (r) => (r as AddressResult).updated],
  ["UNCHANGED", (r) => count((r as AddressResult).unchanged)],
  ["MACS", (r) => count((r as AddressResult).interfacesAdded)],
  ["ENDPOINT", (r) => (r as AddressResult).bmcEndpoint],
  [
    "ERROR",
    (r) => {
      const x = r as AddressResult;
      return x.error ?? (x.problems.length ? `${x.problems.length} problem(s)` : "");
    },
  ],
];

const SCAN_COLUMNS: Column[] = [
  idColumn,
  field("STATE", (s) => s.state),
  field("DRY-RUN", (s) => s.dryRun),
  field("TARGETS", (s) => s.targetIds),
  field("SITE", (s) => s.site),
  field("BY", (s) => s.requestedBy),
  ["CREATED", (r) => (r as { metadata?: { createdAt?: unknown } }).metadata?.createdAt],
  field("MESSAGE", (s) => s.message),
];

/** JSON and YAML: the API's document. A table: a line about the scan, then a row per address scanned. */
function printScan(cli: Cli, a: GlobalOptions, doc: Scan, total?: number): void {
  const printer = cli.printer(a);
  if (printer.format !== "table") {
    printer.print(doc);
    return;
  }
  const s = doc.spec;
  printer.out(
    `scan ${s.id}: ${s.state}${s.dryRun ? " (dry run)" : ""}, targets ${s.targetIds.join(",")}, ` +
      `${scanProgress(s, total)}${s.message ? ` — ${s.message}` : ""}`,
  );
  if (s.results?.length) printer.print(s.results, RESULT_COLUMNS);
}

const getScan = async (api: ApiClient, id: string): Promise<Scan> =>
  (await unwrap(api.GET("/discovery/v1/scans/{id}", { params: { path: { id } } }))).data;

/** Seconds given to --timeout: a positive number, or a usage error. */
export function timeoutOf(v: unknown): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== "number" || !Number.isFinite(v) || v <= 0)
    throw new CliError(EXIT.usage, "--timeout takes a positive number of seconds");
  return v;
}

/**
 * Polls the scan until it is final, showing progress on stderr (in place on
 * a terminal, a line per change in a pipe), then prints the per-address
 * results, names what failed on stderr and sets the exit code.
 */
async function follow(cli: Cli, a: GlobalOptions, id: string, timeoutS?: number): Promise<void> {
  const api = cli.session(a).client;
  const total = await addressTotal(api, (await getScan(api, id)).spec);
  const line = progressOn(cli.io.stderr, id);
  const { last: scan } = await followUntilFinal({
    fetch: () => getScan(api, id),
    describe: (s) => `${scanProgress(s.spec, total)} (${s.spec.state})`,
    isFinal: (s) => FINAL.includes(s.spec.state),
    progress: line.show,
    timeoutS,
  });
  line.end();
  const spec = scan.spec;
  printScan(cli, a, scan, total);
  if (!FINAL.includes(spec.state))
    throw new CliError(
      EXIT.failed,
      `timed out after ${timeoutS} s: scan ${id} is still ${spec.state} (${scanProgress(spec, total)}); ` +
        `it goes on: 'chamicore discovery scans wait ${id}' follows it, 'chamicore discovery scans cancel ${id}' stops it`,
    );
  for (const line of scanReport(spec)) cli.printer(a).err(line);
  cli.exitCode = scanExit(spec);
}

export type ApiScanArgs = GlobalOptions & {
  targets: string[];
  dryRun?: boolean;
  wait?: boolean;
  timeout?: number;
};

/** `discovery scan --target ID…`: starts a scan through the API; with `wait`, follows it to the end. */
export async function apiScan(cli: Cli, a: ApiScanArgs): Promise<void> {
  const timeout = timeoutOf(a.timeout);
  if (timeout !== undefined && !a.wait)
    throw new CliError(EXIT.usage, "--timeout with --target goes with --wait (how long to wait)");
  const { data } = await unwrap(
    cli.session(a).client.POST("/discovery/v1/scans", {
      body: { targets: a.targets, ...(a.dryRun ? { dryRun: true } : {}) },
    }),
  );
  const printer = cli.printer(a);
  const s = data.spec;
  if (!a.wait) {
    printScan(cli, a, data);
    printer.err(`scan ${s.id} started; follow it with: chamicore discovery scans wait ${s.id}`);
    return;
  }
  printer.err(`scan ${s.id}${s.dryRun ? " (dry run)" : ""}: targets ${s.targetIds.join(",")}`);
  await follow(cli, a, s.id, timeout);
}

/** A target id list from repeatable, comma-separable `--target` flags. */
export const targetIdsOf = listOf;

type IdArgs = GlobalOptions & { id: string };

const EXIT_RULES = `Exit codes: 0 every address was scanned (a dry run: would be merged);
4 some address failed, or the scan failed or was cancelled (stderr names each
address and why); 1 the API refused the request, or --timeout passed first
(the scan goes on); 3 not allowed.`;

const scanCommands = (g: Argv, cli: Cli): Argv =>
  g
    .command(
      "get <id>",
      "show a scan with its per-address results (components created, updated, errors)",
      (c) =>
        c
          .positional("id", { type: "string", demandOption: true, describe: "scan id" })
          .example("$0 discovery scans get 6f1c2b4e-8d1a-4f3b-9c2d-1e5f7a9b0c3d", "its results, as a table")
          .example("$0 discovery scans get 6f1c2b4e-8d1a-4f3b-9c2d-1e5f7a9b0c3d -o json", "as JSON"),
      run<IdArgs>(async (a) => printScan(cli, a, await getScan(cli.session(a).client, a.id))),
    )
    .command(
      "cancel <id>",
      "cancel a scan: a new one never starts, a running one stops before its next address (what it merged stays)",
      (c) =>
        c
          .positional("id", { type: "string", demandOption: true, describe: "scan id" })
          .example("$0 discovery scans cancel 6f1c2b4e-8d1a-4f3b-9c2d-1e5f7a9b0c3d", "cancel it")
          .example(
            "$0 discovery scans list --state new,running -o json | jq -r '.items[].metadata.id' | xargs -n1 chamicore discovery scans cancel",
            "cancel every unfinished scan",
          ),
      run<IdArgs>(async (a) => {
        const { data } = await unwrap(
          cli.session(a).client.DELETE("/discovery/v1/scans/{id}", { params: { path: { id: a.id } } }),
        );
        printScan(cli, a, data as Scan);
      }),
    )
    .command(
      "wait <id>",
      "follow a scan until it is final, then show each address's result",
      (c) =>
        c
          .usage(
            "$0 discovery scans wait <id> [--timeout s]\n\nPolls the scan and shows progress on stderr " +
              "(in place on a terminal, a line per change otherwise), then prints each address's result.",
          )
          .positional("id", { type: "string", demandOption: true, describe: "scan id" })
          .option("timeout", {
            type: "number",
            describe: "give up after this many seconds (default: no limit)",
          })
          .example("$0 discovery scans wait 6f1c2b4e-8d1a-4f3b-9c2d-1e5f7a9b0c3d", "wait for the results")
          .example(
            "$0 discovery scans wait 6f1c2b4e-8d1a-4f3b-9c2d-1e5f7a9b0c3d --timeout 600 -o json",
            "at most 10 minutes, results as JSON",
          )
          .epilogue(EXIT_RULES),
      run<IdArgs & { timeout?: number }>((a) => follow(cli, a, a.id, timeoutOf(a.timeout))),
    );

/** `discovery target …` and `discovery scans …`. */
export function discoveryApiCommands(d: Argv, cli: Cli): Argv {
  resourceCommand(d, cli, {
    name: "target",
    aliases: ["targets"],
    parent: "discovery",
    describe:
      "discovery targets in the control API: BMC addresses, the credential that logs in, naming, site",
    path: TARGETS,
    columns: TARGET_COLUMNS,
    verbs: ["list", "get", "delete"],
    filters: {
      id: filter("target id"),
      credentialId: filter("device credential id", { alias: "credential" }),
      site: filter("edge site"),
      sort: sortFilter("id, name, createdAt, updatedAt"),
    },
    examples: [
      [
        "$0 discovery target create --id rack1 --address 10.1.3.100-131 --credential bmc-east --rule 'x{c+1000}c0s{d-100}b0'",
        "a rack's BMCs",
      ],
      ["$0 discovery scan --target rack1 --wait", "scan it into the inventory"],
    ],
    verbExamples: {
      list: [
        ["$0 discovery target list", "every target"],
        ["$0 discovery target list --credential bmc-east -o json", "those logging in with one credential"],
      ],
      get: [["$0 discovery target get rack1 -o yaml", "one target, with its options"]],
      delete: [["$0 discovery target delete rack1", "delete it (what its scans enrolled stays)"]],
    },
    more: writeCommands,
  });
  resourceCommand(d, cli, {
    name: "scans",
    parent: "discovery",
    describe: "discovery scans run by the control plane: list, results, cancel, wait",
    path: SCANS,
    columns: SCAN_COLUMNS,
    verbs: ["list"],
    filters: {
      state: filter(`state: ${SCAN_STATES.join(", ")}`),
      dryRun: { type: "boolean", describe: "dry runs only (--no-dry-run: real ones only)" },
      requestedBy: filter("who asked (token subject)", { alias: "requested-by" }),
      sort: sortFilter("createdAt, updatedAt, state"),
    },
    examples: [
      ["$0 discovery scans list --state running", "what is running"],
      ["$0 discovery scans wait 6f1c2b4e-8d1a-4f3b-9c2d-1e5f7a9b0c3d", "follow one to the end"],
    ],
    verbExamples: {
      list: [
        ["$0 discovery scans list", "newest first"],
        ["$0 discovery scans list --state failed,cancelled --no-dry-run", "real scans that did not complete"],
        ["$0 discovery scans list --requested-by ops -o json", "one caller's, as JSON"],
      ],
    },
    more: scanCommands,
  });
  return d;
}
