/**
 * `chamicore import FILE`: bulk enrolment through POST /hsm/v2/import.
 * Rows are read and checked locally first (functions/inventory/import-file.ts),
 * then sent in batches; the API takes a batch whole or not at all, so a
 * refused batch is sent again without the items it named, and the named
 * ones are reported on their file lines. Groups are filled last, with the
 * components that went in.
 */

import type { Argv } from "yargs";
// Types only: the module itself (with the API's schemas) is loaded when the command runs.
import type { Entry, ImportFormat, RowError } from "../../../functions/inventory/import-file";
import { type ApiClient, ApiProblem, type Schemas, unwrap } from "../../../shared/client";
import { type Cli, type GlobalOptions, run } from "../../../shared/node/cli/app";
import { CliError, EXIT, type ExitCode } from "../../../shared/node/cli/errors";
import type { Column } from "../../../shared/node/cli/output";
import type { FieldError } from "../../../shared/problem";
import type { CommandModule } from "../groups";
import { readText } from "../input";

type Rows = typeof import("../../../functions/inventory/import-file");

import { batches, progressLine } from "../workflows/progress";

import { failureText, stepError } from "../workflows/steps";

type ImportArgs = GlobalOptions & {
  file: string;
  format?: ImportFormat;
  batch: number;
  "dry-run"?: boolean;
  "skip-invalid"?: boolean;
};

/** The API's limit per request (BULK_IMPORT_MAX). */
const MAX_BATCH = 10_000;
/** Rounds of sending a batch again without the items the API named. */
const MAX_ROUNDS = 5;

export type Stage = "invalid" | "refused" | "group";
export type ReportError = RowError & { stage: Stage };

export interface GroupResult {
  name: string;
  members: number;
  status: "done" | "would" | "failed";
  detail: string;
}

export interface ImportReport {
  file: string;
  format: ImportFormat;
  dryRun: boolean;
  /** Every component in, every group filled. */
  ok: boolean;
  /** Items read from the file (CSV: ids; the rows of one id are one item). */
  items: number;
  /** Components to import (valid items, and BMCs they name). */
  components: number;
  imported: number;
  /** Invalid items skipped plus components the API refused. */
  failed: number;
  invalid: number;
  refused: number;
  batches: number;
  seconds: number;
  errors: ReportError[];
  groups: GroupResult[];
}

const ERROR_COLUMNS: Column[] = [
  ["LINE", (r) => (r as ReportError).line || ""],
  ["ID", (r) => (r as ReportError).id],
  ["STAGE", (r) => (r as ReportError).stage],
  ["FIELD", (r) => (r as ReportError).field],
  ["REASON", (r) => (r as ReportError).message],
];

const HELP = `$0 import <file> [--format csv|json|yaml] [--batch N] [--dry-run] [--skip-invalid]

Enrols components (with their interfaces) in bulk. The file may be:
  JSON or YAML {components: [...]}  the API's own shape (POST /hsm/v2/import), or a bare list
  OpenCHAMI nodes.yaml              nodes: [{name, xname, nid, role, group(s), bmc_mac, bmc_ip,
                                      interfaces: [{mac_addr, ip_addrs: [{name, ip_addr}]}]}]
  CSV with a header                 id (or xname, name), type, role, subrole, nid, state, flag, arch,
                                      rack, enabled, mac, ip, network, group, bmc_mac, bmc_ip; one row
                                      per node or per interface (rows with the same id add interfaces;
                                      several ips or groups: separate them with ';')
xname/name become the id (xname first); the type defaults to what an xname
implies, else Node; role and type are matched in any case; bmc_mac adds a
NodeBMC component (the node xname's BMC, else <id>-bmc); groups are created
or filled once the components are in.

Every row is checked first: a bad row is reported with its line and nothing
is sent (exit 2), unless --skip-invalid. Then batches of --batch components
go to the API, each all or nothing: the items a batch is refused for are
reported on their lines and the rest of that batch is sent again; other
batches still go. On a terminal a progress bar shows on stderr; the summary
line says how many went in and how long it took.

Exit codes: 0 all imported; 4 some imported, some not (invalid rows skipped
with --skip-invalid, or refused by the API); 1 none imported (3: not allowed);
2 a bad row without --skip-invalid, or a file that cannot be read.
Output: a table of the rows that failed on a terminal, else JSON
{ok, imported, failed, errors: [{line, id, stage, field, message}], groups, ...} (-o).`;

const lines = (batch: readonly Entry[]) =>
  batch.length === 1 ? `line ${batch[0]!.line}` : `lines ${batch[0]!.line}–${batch.at(-1)!.line}`;

/** The outcome of one batch: what went in, and the errors of what did not. */
interface BatchResult {
  imported: Entry[];
  failed: number;
  errors: ReportError[];
}

/** Sends a batch; a refusal naming items sends the rest again. 401/403 and unreachable APIs throw. */
async function sendBatch(api: ApiClient, batch: Entry[], rows: Rows): Promise<BatchResult> {
  let pending = batch;
  const errors: ReportError[] = [];
  let failed = 0;
  for (let round = 0; pending.length; round++) {
    const { error, response } = await api.POST("/hsm/v2/import", {
      // Checked locally with the API's schema; the API checks again.
      body: { components: pending.map((e) => e.component) as Schemas["BulkImport"]["components"] },
    });
    if (response.ok) return { imported: pending, failed, errors };
    const problem = new ApiProblem(response.status, error, response.statusText);
    if (problem.status === 401 || problem.status === 403) throw problem;
    const named = rows.itemErrors(pending, problem.errors);
    errors.push(...named.rows.map((r) => ({ ...r, stage: "refused" as const })));
    failed += named.failed.size;
    const rest = pending.filter((_, i) => !named.failed.has(i));
    if (!named.failed.size || named.unattributed.length || round + 1 >= MAX_ROUNDS) {
      // Not (only) about items: the rest of the batch did not go in either.
      if (rest.length) {
        const why = [
          stepError(problem).message,
          ...named.unattributed.map((f: FieldError) => `${f.field}: ${f.message}`),
        ].join("; ");
        errors.push({
          line: rest[0]!.line,
          stage: "refused",
          message: `${rest.length} component(s) on ${lines(rest)} not imported: ${why}`,
        });
        failed += rest.length;
      }
      return { imported: [], failed, errors };
    }
    pending = rest;
  }
  return { imported: [], failed, errors };
}

/** Adds the imported members to each group, creating the groups that do not exist. */
async function fillGroups(
  api: ApiClient,
  members: Map<string, Entry[]>,
): Promise<{ groups: GroupResult[]; errors: ReportError[] }> {
  const groups: GroupResult[] = [];
  const errors: ReportError[] = [];
  for (const [name, entries] of [...members].sort(([a], [b]) => a.localeCompare(b))) {
    const ids = entries.map((e) => e.id);
    try {
      let created = false;
      for (let i = 0; i < ids.length; i += 100_000) {
        const part = ids.slice(i, i + 100_000);
        const added = await api.POST("/hsm/v2/groups/{name}/members", {
          params: { path: { name } },
          body: { ids: part },
        });
        if (added.response.status === 404) {
          await unwrap(api.POST("/hsm/v2/groups", { body: { name, members: part } }));
          created = true;
        } else if (!added.response.ok)
          throw new ApiProblem(added.response.status, added.error, added.response.statusText);
      }
      groups.push({
        name,
        members: ids.length,
        status: "done",
        detail: `${created ? "created with" : "added"} ${ids.length} member(s)`,
      });
    } catch (e) {
      const err = stepError(e);
      groups.push({ name, members: 0, status: "failed", detail: failureText(err) });
      errors.push({
        line: entries[0]!.line,
        stage: "group",
        field: "group",
        message: `group ${name}: ${failureText(err)}`,
      });
    }
  }
  return { groups, errors };
}

function summaryOf(r: ImportReport, skipInvalid: boolean): string {
  const groups = r.groups.length
    ? `; groups: ${r.groups.map((g) => `${g.name} (${g.status === "failed" ? "failed" : g.members})`).join(", ")}`
    : "";
  if (r.invalid && !skipInvalid)
    return `${r.invalid} of ${r.items} components are not valid; nothing was imported (fix them, or --skip-invalid imports the other ${r.items - r.invalid})`;
  const skipped = r.invalid ? `, ${r.invalid} invalid item(s) skipped` : "";
  if (r.dryRun)
    return `dry run: would import ${r.components} component(s) in ${r.batches} batch(es)${skipped}${groups}; nothing was sent`;
  const failed = r.failed
    ? ` (${[r.invalid ? `${r.invalid} invalid` : "", r.refused ? `${r.refused} refused by the API` : ""].filter(Boolean).join(", ")})`
    : "";
  return `imported ${r.imported}, failed ${r.failed}${failed}, in ${r.seconds.toFixed(1)} s${groups}`;
}

function exitOf(r: ImportReport, skipInvalid: boolean, fatal: unknown): ExitCode {
  if (r.invalid && (!skipInvalid || r.components === 0)) return EXIT.usage;
  if (r.dryRun) return EXIT.ok;
  if (r.ok) return EXIT.ok;
  if (r.imported > 0) return EXIT.partial;
  const status = fatal instanceof ApiProblem ? fatal.status : undefined;
  return status === 401 || status === 403 ? EXIT.auth : EXIT.failed;
}

function print(cli: Cli, a: ImportArgs, r: ImportReport) {
  const printer = cli.printer(a);
  const summary = summaryOf(r, !!a["skip-invalid"]);
  if (printer.format !== "table") {
    printer.print(r);
    printer.err(summary);
    return;
  }
  if (r.errors.length) printer.print(r.errors, ERROR_COLUMNS);
  for (const g of r.groups.filter((g) => g.status === "failed")) printer.out(`group ${g.name}: ${g.detail}`);
  printer.out(summary);
}

async function importFile(cli: Cli, a: ImportArgs) {
  const t0 = performance.now();
  if (!Number.isInteger(a.batch) || a.batch < 1 || a.batch > MAX_BATCH)
    throw new CliError(EXIT.usage, `--batch must be a whole number from 1 to ${MAX_BATCH}, not ${a.batch}`);
  const rows: Rows = await import("../../../functions/inventory/import-file");
  const { parseImport, formatOf, ImportFileError } = rows;
  // yargs hands a lone `-` positional on as "" (yargs-parser reads it as a flag without a name).
  const file = a.file === "" ? "-" : a.file;
  const name = file === "-" ? "standard input" : file;
  const text = readText(file, cli.io.stdin);
  const format = formatOf(file, text, a.format);
  let parsed: ReturnType<typeof parseImport>;
  try {
    parsed = parseImport(text, format, name);
  } catch (e) {
    if (e instanceof ImportFileError) throw new CliError(EXIT.usage, e.message);
    throw e;
  }
  if (parsed.items === 0) throw new CliError(EXIT.usage, `${name} holds no components`);

  const dryRun = !!a["dry-run"];
  const skipInvalid = !!a["skip-invalid"];
  const chunks = batches(parsed.entries, a.batch);
  const report: ImportReport = {
    file: name,
    format,
    dryRun,
    ok: false,
    items: parsed.items,
    components: parsed.entries.length,
    imported: 0,
    failed: parsed.invalidLines.length,
    invalid: parsed.invalidLines.length,
    refused: 0,
    batches: chunks.length,
    seconds: 0,
    errors: parsed.invalid.map((e) => ({ ...e, stage: "invalid" as const })),
    groups: [],
  };
  const members = new Map<string, Entry[]>();
  const addMembers = (entries: readonly Entry[]) => {
    for (const e of entries)
      for (const g of e.groups) {
        const list = members.get(g);
        if (list) list.push(e);
        else members.set(g, [e]);
      }
  };
  const finish = (fatal?: unknown) => {
    report.seconds = Math.round(performance.now() - t0) / 1000;
    report.errors.sort((x, y) => x.line - y.line);
    report.ok =
      report.failed === 0 && report.invalid === 0 && report.groups.every((g) => g.status !== "failed");
    print(cli, a, report);
    cli.exitCode = exitOf(report, skipInvalid, fatal);
  };

  if ((report.invalid && !skipInvalid) || parsed.entries.length === 0) return finish();
  if (dryRun) {
    addMembers(parsed.entries);
    report.groups = [...members]
      .sort(([x], [y]) => x.localeCompare(y))
      .map(([g, es]) => ({ name: g, members: es.length, status: "would", detail: `would add ${es.length}` }));
    return finish();
  }

  const api = cli.session(a).client;
  const tty = cli.io.stderr.isTTY === true;
  const started = performance.now();
  const bar = () => {
    if (!tty) return;
    const line = progressLine({
      done: report.imported,
      failed: report.refused,
      total: report.components,
      seconds: (performance.now() - started) / 1000,
      columns: cli.io.stderr.columns,
    });
    cli.io.stderr.write(`\r${line}\x1b[K`);
  };
  bar();
  let fatal: unknown;
  for (const [i, batch] of chunks.entries()) {
    try {
      const r = await sendBatch(api, batch, rows);
      report.imported += r.imported.length;
      report.refused += r.failed;
      report.failed += r.failed;
      report.errors.push(...r.errors);
      addMembers(r.imported);
    } catch (e) {
      // Not allowed, or the API is unreachable: the next batches would fare no better.
      fatal = e;
      const rest = chunks.slice(i).flat();
      report.refused += rest.length;
      report.failed += rest.length;
      report.errors.push({
        line: rest[0]!.line,
        stage: "refused",
        message: `stopped: ${failureText(stepError(e))}; ${rest.length} component(s) from line ${rest[0]!.line} on were not sent`,
      });
      bar();
      break;
    }
    bar();
  }
  if (tty) cli.io.stderr.write("\n");
  if (members.size) {
    const g = await fillGroups(api, members);
    report.groups = g.groups;
    report.errors.push(...g.errors);
  }
  finish(fatal);
}

export const importCommands: CommandModule = (y: Argv, cli: Cli) =>
  y.command(
    "import <file>",
    "bulk-enrol components from a nodes.yaml, JSON, YAML or CSV file",
    (c) =>
      c
        .usage(HELP)
        .positional("file", { type: "string", describe: "the file ('-' reads stdin; then say --format)" })
        .option("format", {
          choices: ["csv", "json", "yaml"] as const,
          describe: "the file's format (default: from its name, else its content)",
        })
        .option("batch", {
          type: "number",
          default: 1000,
          describe: `components per request (1–${MAX_BATCH})`,
        })
        .option("dry-run", { type: "boolean", describe: "check the file and show the plan; send nothing" })
        .option("skip-invalid", {
          type: "boolean",
          describe: "import the valid rows even if some are not (exit 4 then)",
        })
        .example("$0 import nodes.yaml", "OpenCHAMI's nodes.yaml, groups included")
        .example("$0 import inventory.csv --dry-run", "check a CSV file: every bad row with its line")
        .example(
          "$0 import big.json --batch 5000 -o json | jq .errors",
          "larger requests; the failures as JSON",
        ),
    run<ImportArgs>((a) => importFile(cli, a)),
  );
