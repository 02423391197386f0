/**
 * `chamicore boot status|watch`: where every node is in its boot
 * (`GET /boot/v1/status`, docs/boot-progress.md): how many nodes are at each
 * stage, then the stuck ones, longest stuck first. `watch` redraws the same
 * in place until Ctrl-C (on a terminal; in a pipe it prints each round
 * after the last). `-o json` prints the API's document.
 */
import type { Argv } from "yargs";
import { type Schemas, unwrap } from "../../../shared/client";
import { type Cli, type GlobalOptions, run } from "../../../shared/node/cli/app";
import { CliError, EXIT } from "../../../shared/node/cli/errors";
import { type Column, table } from "../../../shared/node/cli/output";
import type { CommandModule } from "../groups";
import { commandGroup, filter } from "../groups";

type StatusArgs = GlobalOptions & {
  stage?: string;
  group?: string;
  rack?: string;
  edge?: string;
  stuck: number;
  limit: number;
  interval?: number;
};

type StatusList = Schemas["BootStatusList"];
type NodeStatus = StatusList["items"][number];
const node = (header: string, f: (n: NodeStatus) => unknown): Column => [header, (r) => f(r as NodeStatus)];

/** A node is called stuck after this many seconds at a stage short of phone-home, unless --stuck says otherwise. */
const DEFAULT_STUCK_SECONDS = 300;

function statusOptions(c: Argv): Argv {
  return c
    .option(
      "stage",
      filter("only stuck nodes at this stage: bootscript, artifacts, meta-data, user-data, vendor-data"),
    )
    .option("group", filter("only members of this group"))
    .option("rack", filter("only this rack (by default the xname cabinet, e.g. x1000)"))
    .option("edge", filter("only nodes last seen by this edge"))
    .option("stuck", {
      type: "number",
      default: DEFAULT_STUCK_SECONDS,
      describe: "call a node stuck after this many seconds at a stage short of phone-home",
    })
    .option("limit", { type: "number", default: 100, describe: "list at most this many stuck nodes" });
}

function whole(flag: string, v: number): string {
  if (!Number.isInteger(v) || v < 0) throw new CliError(EXIT.usage, `--${flag} takes a whole number`);
  return String(v);
}

async function readStatus(cli: Cli, a: StatusArgs): Promise<StatusList> {
  const given: Record<string, string | undefined> = {
    stage: a.stage,
    group: a.group,
    rack: a.rack,
    edge: a.edge,
    stuckFor: whole("stuck", a.stuck),
    limit: a.limit === 0 ? undefined : whole("limit", a.limit),
    sort: "at",
  };
  const query = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) as Record<
    string,
    string
  >;
  const { data } = await unwrap(cli.session(a).client.GET("/boot/v1/status", { params: { query } }));
  return data as StatusList;
}

const seconds = (s: number | null | undefined) =>
  s === null || s === undefined
    ? ""
    : s < 120
      ? `${s}s`
      : s < 7200
        ? `${Math.floor(s / 60)}m${s % 60}s`
        : `${Math.floor(s / 3600)}h${Math.floor((s % 3600) / 60)}m`;

/** The counts per stage, then the stuck nodes, as text. */
export function renderStatus(doc: StatusList, stuckSeconds: number): string {
  // The API gives the counts in the order a boot passes the stages (functions/progress/schemas.ts).
  const stages = Object.entries(doc.metadata.counts).map(([stage, nodes]) => ({ stage, nodes }));
  const all = stages.reduce((n, s) => n + s.nodes, 0);
  const lines = [
    table(
      [...stages, { stage: "total", nodes: all }],
      [
        ["STAGE", (r) => (r as { stage: string }).stage],
        ["NODES", (r) => (r as { nodes: number }).nodes],
      ],
    ),
    "",
    `STUCK (${doc.metadata.total} at a stage short of phone-home for ${stuckSeconds} s or more)`,
  ];
  if (doc.items.length)
    lines.push(
      table(doc.items, [
        node("NODE", (n) => n.id),
        node("STAGE", (n) => n.stage),
        node("FOR", (n) => seconds(n.stuckSeconds)),
        node("RETRY", (n) => n.retry),
        node("EDGE", (n) => n.edge ?? "(control)"),
        node("RACK", (n) => n.rack),
        node("SINCE", (n) => n.at),
      ]),
    );
  if (doc.metadata.total > doc.items.length)
    lines.push(`(${doc.items.length} of ${doc.metadata.total}; --limit shows more)`);
  return lines.join("\n");
}

async function printStatus(cli: Cli, a: StatusArgs, doc: StatusList) {
  const printer = cli.printer(a);
  if (printer.format === "table") printer.out(renderStatus(doc, a.stuck));
  else printer.print(doc);
}

/** Until SIGINT or SIGTERM: a status every `interval` s, in place on a terminal. */
async function watch(cli: Cli, a: StatusArgs) {
  const interval = a.interval ?? 2;
  if (!(interval >= 0.5)) throw new CliError(EXIT.usage, "--interval takes at least 0.5 seconds");
  let stop: () => void = () => {};
  const stopped = new Promise<void>((resolve) => {
    stop = resolve;
  });
  const onSignal = () => stop();
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);
  const tty = cli.io.stdout.isTTY === true;
  const asTable = cli.printer(a).format === "table";
  try {
    for (let first = true; ; first = false) {
      const doc = await readStatus(cli, a);
      if (tty && asTable)
        // Home and clear: the same screen, redrawn.
        cli.io.stdout.write(
          `\x1b[H\x1b[2J${new Date().toISOString()}  every ${interval} s, Ctrl-C to stop\n\n${renderStatus(doc, a.stuck)}\n`,
        );
      else if (asTable)
        cli.io.stdout.write(`${first ? "" : "\n"}# ${doc.metadata.asOf}\n${renderStatus(doc, a.stuck)}\n`);
      // One document per line: a pipe reads each round as it comes.
      else cli.io.stdout.write(`${JSON.stringify(doc)}\n`);
      const next = new Promise<"next">((r) => setTimeout(() => r("next"), interval * 1000));
      if ((await Promise.race([next, stopped.then(() => "stop" as const)])) === "stop") return;
    }
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

export const bootCommands: CommandModule = (y, cli) =>
  commandGroup(
    y,
    "boot",
    "boot progress: how many nodes are at each stage of their boot, and which are stuck",
    [
      ["$0 boot status", "counts per stage, then the nodes stuck for 5 minutes or more"],
      ["$0 boot watch --rack x1000 --stuck 120", "a live view of one rack"],
    ],
    (g) =>
      g
        .command(
          "status",
          "counts per stage (boot script, meta-data, user-data, vendor-data, phone-home), then the stuck nodes, longest stuck first",
          (c) =>
            statusOptions(c)
              .usage(
                "$0 boot status [--group G] [--rack R] [--edge E] [--stage S] [--stuck SECONDS] [--limit N]\n\n" +
                  "The group, rack and edge filters narrow the counts and the list; --stage and --stuck narrow the list alone. " +
                  "Needs the read:boot-status scope (viewers and operators have it).",
              )
              .example("$0 boot status --group compute --stuck 60", "compute nodes stuck for a minute")
              .example("$0 boot status -o json", "the API's document, for scripts"),
          run<StatusArgs>(async (a) => printStatus(cli, a, await readStatus(cli, a))),
        )
        .command(
          "watch",
          "the same as status, redrawn every few seconds until Ctrl-C",
          (c) =>
            statusOptions(c)
              .option("interval", { type: "number", default: 2, describe: "seconds between rounds" })
              .example("$0 boot watch --group compute", "follow a boot storm"),
          run<StatusArgs>((a) => watch(cli, a)),
        ),
  );
