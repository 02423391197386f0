/**
 * The power commands (docs/power.md): `power on|off|reboot|reset` start a
 * transition through the convenience actions (`--wait` follows it),
 * `power status` shows the last known power state per node, `power
 * transition list|get|abort|wait` look after transitions, and `power bmcs`
 * manages the BMC endpoints with the usual verbs (resource.ts).
 */
import type { Argv } from "yargs";
import { type ApiClient, type Schemas, unwrap } from "../../../shared/client";
import { type Cli, type GlobalOptions, run } from "../../../shared/node/cli/app";
import { CliError, EXIT } from "../../../shared/node/cli/errors";
import type { Column } from "../../../shared/node/cli/output";
import type { CommandModule } from "../groups";
import { type Args, col, commandGroup, filter, idColumn, newKey, picked, sortFilter } from "../groups";
import { loose, resourceCommand } from "../resource";
import { progressOn } from "../workflows/follow";
import {
  exitOf,
  failureSummary,
  type PowerTask,
  progressText,
  type Transition,
  type TransitionSpec,
  waitForTransition,
} from "../workflows/transition-wait";

const TRANSITIONS = "/power/v1/transitions";

/** The convenience actions and the transition operation each starts. */
const ACTIONS = {
  on: { operation: "on", describe: "power nodes on" },
  off: {
    operation: "off",
    describe: "power nodes off (ForceOff; GracefulShutdown where that is all a BMC offers)",
  },
  reboot: { operation: "soft-restart", describe: "restart nodes gracefully (GracefulRestart)" },
  reset: {
    operation: "hard-restart",
    describe: "restart nodes hard (ForceRestart, PowerCycle, or off then on)",
  },
} as const;
type Action = keyof typeof ACTIONS;

const POWER_STATES = ["on", "off", "undefined"] as const;

const EXIT_RULES = `Exit codes: 0 every node's task succeeded (or, in a dry run, was planned);
4 some failed or were aborted (the results say why, and stderr names them);
1 the API refused the request, or --timeout passed before the transition
ended (it goes on: 'power transition wait ID' follows it again); 3 not allowed.`;

type ActionArgs = GlobalOptions & {
  xname?: string[];
  group?: string;
  "dry-run"?: boolean;
  "deadline-minutes"?: number;
  wait?: boolean;
  timeout?: number;
};
type StatusArgs = GlobalOptions & {
  xname?: string[];
  group?: string;
  state?: string;
  limit?: number;
  offset?: number;
};
type IdArgs = GlobalOptions & { id: string };
type WaitArgs = IdArgs & { timeout?: number };

// ---------- printing ----------

const TASK_COLUMNS: Column[] = [
  ["XNAME", (t) => (t as PowerTask).xname],
  ["BMC", (t) => (t as PowerTask).bmcId],
  ["STATE", (t) => (t as PowerTask).state],
  ["POWER", (t) => (t as PowerTask).powerState],
  ["MESSAGE", (t) => (t as PowerTask).message],
];

const TRANSITION_COLUMNS: Column[] = [
  idColumn,
  col("OPERATION", "operation"),
  col("STATE", "state"),
  col("DRY-RUN", "dryRun"),
  col("BY", "requestedBy"),
  col("TASKS", (s) => progressText(s as unknown as TransitionSpec)),
  ["CREATED", (r) => (r as { metadata?: { createdAt?: unknown } }).metadata?.createdAt],
];

const STATUS_COLUMNS: Column[] = [
  ["XNAME", (r) => (r as Status).xname],
  ["POWER", (r) => (r as Status).powerState],
  ["SOURCE", (r) => (r as Status).source],
  ["INVENTORY", (r) => (r as Status).inventoryState],
  ["BMC", (r) => (r as Status).bmcId],
  ["MANAGEMENT", (r) => (r as Status).managementState],
  ["LAST TASK", (r) => lastTask(r as Status)],
];
type Status = Schemas["PowerStatusList"]["items"][number];
const lastTask = (s: Status) => (s.lastTask ? `${s.lastTask.operation} ${s.lastTask.state}` : "");

/**
 * A transition: JSON and YAML get the API's document; a table, a line
 * about the transition and then one row per node.
 */
function printTransition(cli: Cli, a: GlobalOptions, doc: Transition): void {
  const printer = cli.printer(a);
  if (printer.format !== "table") {
    printer.print(doc);
    return;
  }
  const s = doc.spec;
  printer.out(
    `transition ${s.id}: ${s.operation}${s.dryRun ? " (dry run)" : ""}, ${s.state}, ${progressText(s)}`,
  );
  printer.print(s.tasks ?? [], TASK_COLUMNS);
}

// ---------- following a transition ----------

const getTransition = async (api: ApiClient, id: string): Promise<Transition> =>
  (await unwrap(api.GET("/power/v1/transitions/{id}", { params: { path: { id } } }))).data;

/** A positive number of seconds or minutes, or a usage error naming the flag. */
function positive(flag: string, v: number | undefined): number | undefined {
  if (v === undefined) return undefined;
  if (!Number.isFinite(v) || v < 0) throw new CliError(EXIT.usage, `--${flag} takes a positive number`);
  return v;
}

/**
 * Polls the transition until it is final, showing progress on stderr (in
 * place on a terminal, a line per change in a pipe), then prints the
 * per-node results and sets the exit code.
 */
async function follow(cli: Cli, a: GlobalOptions, id: string, timeoutS: number | undefined): Promise<void> {
  const api = cli.session(a).client;
  const line = progressOn(cli.io.stderr, id);
  const result = await waitForTransition({
    fetch: () => getTransition(api, id),
    progress: line.show,
    timeoutS,
  });
  line.end();
  const spec = result.transition.spec;
  printTransition(cli, a, result.transition);
  if (!result.final)
    throw new CliError(
      EXIT.failed,
      `timed out after ${timeoutS} s: transition ${id} is still ${spec.state} (${progressText(spec)}); ` +
        `it goes on: 'chamicore power transition wait ${id}' follows it, 'chamicore power transition abort ${id}' stops it`,
    );
  for (const line of failureSummary(spec)) cli.printer(a).err(line);
  cli.exitCode = exitOf(spec);
}

// ---------- on, off, reboot, reset ----------

function actionCommand(y: Argv, cli: Cli, action: Action): Argv {
  const { operation, describe } = ACTIONS[action];
  return y.command(
    `${action} [xname..]`,
    `${describe} (one '${operation}' transition)`,
    (c) =>
      c
        .usage(
          `$0 power ${action} [xname..] [--group g] [--dry-run] [--deadline-minutes n] [--wait]\n\n` +
            `${describe}. The nodes are the xnames given, then the members of --group. Prints the ` +
            `transition and its tasks; with --wait, follows it to the end like 'power transition wait'.`,
        )
        .positional("xname", { type: "string", array: true, describe: "node xnames" })
        .option("group", { type: "string", describe: "an inventory group whose members are added" })
        .option("dry-run", {
          type: "boolean",
          describe: "resolve each node's BMC and credential and record the plan; no BMC is contacted",
        })
        .option("deadline-minutes", {
          type: "number",
          describe: "how long each Reset may take to show in PowerState (0.01–1440; default 5)",
        })
        .option("wait", { type: "boolean", describe: "follow the transition until every task is final" })
        .option("timeout", { type: "number", describe: "with --wait: give up after this many seconds" })
        .example(`$0 power ${action} x1000c0s0b0n0 x1000c0s1b0n0`, `${action} two nodes`)
        .example(`$0 power ${action} --group compute --wait`, "a group's nodes, waiting for the results")
        .example(`$0 power ${action} --group compute --dry-run`, "which BMC would power each node")
        .epilogue(EXIT_RULES),
    run<ActionArgs>(async (a) => {
      const nodes = (a.xname ?? []).map(String);
      if (nodes.length === 0 && a.group === undefined)
        throw new CliError(EXIT.usage, `say which nodes: xnames, --group, or both`);
      const deadline = positive("deadline-minutes", a["deadline-minutes"]);
      const timeout = positive("timeout", a.timeout);
      const body: Schemas["PowerAction"] = {
        ...(nodes.length ? { nodes } : {}),
        ...(a.group !== undefined ? { group: a.group } : {}),
        ...(a["dry-run"] !== undefined ? { dryRun: a["dry-run"] } : {}),
        ...(deadline !== undefined ? { taskDeadlineMinutes: deadline } : {}),
      };
      const { data } = await unwrap(
        loose(cli.session(a).client).POST(`/power/v1/actions/${action}`, { body }),
      );
      const started = data as Transition;
      if (!a.wait) {
        printTransition(cli, a, started);
        return;
      }
      cli
        .printer(a)
        .err(`transition ${started.spec.id}: ${operation} of ${started.spec.taskCounts.total} node(s)`);
      await follow(cli, a, started.spec.id, timeout);
    }),
  );
}

// ---------- status ----------

function statusCommand(y: Argv, cli: Cli): Argv {
  return y.command(
    "status [xname..]",
    "last known power state per node (no BMC is asked: run a transition to refresh)",
    (c) =>
      c
        .positional("xname", { type: "string", array: true, describe: "node xnames (default: every node)" })
        .option("group", { type: "string", describe: "the members of this inventory group" })
        .option("state", {
          type: "string",
          choices: POWER_STATES,
          describe: "only nodes in this power state",
        })
        .option("limit", { type: "number", describe: "at most this many" })
        .option("offset", { type: "number", describe: "skip this many" })
        .example("$0 power status", "every node")
        .example("$0 power status x1000c0s0b0n0 x1000c0s1b0n0", "two nodes")
        .example(
          "$0 power status --group compute --state off -o json",
          "a group's nodes that are off, as JSON",
        ),
    run<StatusArgs>(async (a) => {
      const query = {
        ...(a.xname?.length ? { xname: a.xname.map(String).join(",") } : {}),
        ...(a.group !== undefined ? { group: a.group } : {}),
        ...(a.state !== undefined ? { powerState: a.state } : {}),
        ...(a.limit !== undefined ? { limit: String(a.limit) } : {}),
        ...(a.offset !== undefined ? { offset: String(a.offset) } : {}),
      };
      const { data } = await unwrap(
        cli.session(a).client.GET("/power/v1/power-status", { params: { query } }),
      );
      cli.printer(a).print(data, STATUS_COLUMNS);
    }),
  );
}

// ---------- transitions ----------

function transitionCommands(g: Argv, cli: Cli): Argv {
  return g
    .command(
      "get <id>",
      "show a transition with every node's task",
      (c) =>
        c
          .positional("id", { type: "string", demandOption: true, describe: "transition id" })
          .example("$0 power transition get 6f1c2b4e-0d2a-4c55-9a57-2f1e0c3d4b5a", "its tasks, as a table")
          .example("$0 power transition get 6f1c2b4e-0d2a-4c55-9a57-2f1e0c3d4b5a -o json", "as JSON"),
      run<IdArgs>(async (a) => printTransition(cli, a, await getTransition(cli.session(a).client, a.id))),
    )
    .command(
      "abort <id>",
      "abort a transition: tasks not started never start, running ones stop (a Reset already sent is not undone)",
      (c) =>
        c
          .positional("id", { type: "string", demandOption: true, describe: "transition id" })
          .example("$0 power transition abort 6f1c2b4e-0d2a-4c55-9a57-2f1e0c3d4b5a", "abort it")
          .example(
            "$0 power transition abort 6f1c2b4e-0d2a-4c55-9a57-2f1e0c3d4b5a && chamicore power transition wait 6f1c2b4e-0d2a-4c55-9a57-2f1e0c3d4b5a",
            "abort it and wait until its tasks have stopped",
          ),
      run<IdArgs>(async (a) => {
        const { data } = await unwrap(
          cli.session(a).client.DELETE("/power/v1/transitions/{id}", { params: { path: { id: a.id } } }),
        );
        printTransition(cli, a, data);
      }),
    )
    .command(
      "wait <id>",
      "follow a transition until every task is final, then show each node's result",
      (c) =>
        c
          .usage(
            "$0 power transition wait <id> [--timeout s]\n\nPolls the transition and shows progress on stderr " +
              "(in place on a terminal, a line per change otherwise), then prints each node's result.",
          )
          .positional("id", { type: "string", demandOption: true, describe: "transition id" })
          .option("timeout", {
            type: "number",
            describe: "give up after this many seconds (default: no limit)",
          })
          .example("$0 power transition wait 6f1c2b4e-0d2a-4c55-9a57-2f1e0c3d4b5a", "wait for the results")
          .example(
            "$0 power transition wait 6f1c2b4e-0d2a-4c55-9a57-2f1e0c3d4b5a --timeout 300 -o json",
            "at most 5 minutes, results as JSON",
          )
          .epilogue(EXIT_RULES),
      run<WaitArgs>(async (a) => follow(cli, a, a.id, positive("timeout", a.timeout))),
    );
}

// ---------- the command group ----------

export const powerCommands: CommandModule = (y, cli) =>
  commandGroup(
    y,
    "power",
    "power control through the BMCs: on, off, reboot, reset, status, transitions, BMC endpoints",
    [
      ["$0 power on x1000c0s0b0n0 --wait", "power a node on and wait for the result"],
      ["$0 power status --group compute", "the power state of a group's nodes"],
      [
        "$0 power bmcs create --id x1000c0s0b0 --address 10.1.3.17 --credential bmc-east",
        "add a BMC endpoint",
      ],
    ],
    (g) => {
      for (const action of Object.keys(ACTIONS) as Action[]) actionCommand(g, cli, action);
      statusCommand(g, cli);
      resourceCommand(g, cli, {
        name: "transition",
        aliases: ["transitions"],
        parent: "power",
        describe: "transitions: one power operation over a set of nodes, with a task per node",
        path: TRANSITIONS,
        columns: TRANSITION_COLUMNS,
        verbs: ["list"],
        filters: {
          state: filter("state: new, in-progress, completed, aborted, abort-signaled"),
          operation: filter("operation: on, off, soft-off, force-off, soft-restart, hard-restart, init"),
          dryRun: { type: "boolean", describe: "dry runs only (--no-dry-run: real ones only)" },
          requestedBy: filter("who asked (token subject)", { alias: "requested-by" }),
          sort: sortFilter("createdAt, updatedAt, state, operation"),
        },
        examples: [
          ["$0 power transition list --state in-progress", "what is running"],
          ["$0 power transition wait 6f1c2b4e-0d2a-4c55-9a57-2f1e0c3d4b5a", "follow one to the end"],
        ],
        verbExamples: {
          list: [
            ["$0 power transition list", "newest first, with task counts"],
            ["$0 power transition list --state completed,aborted --operation off", "several values"],
            ["$0 power transition list --requested-by ops -o json", "one caller's, as JSON"],
          ],
        },
        more: transitionCommands,
      });
      resourceCommand(g, cli, {
        name: "bmcs",
        parent: "power",
        describe: "BMC endpoints: where each NodeBMC is and which device credential logs in to it",
        path: "/power/v1/bmcs",
        columns: [
          idColumn,
          col("ADDRESS", "address"),
          col("CREDENTIAL", "credentialId"),
          col("AUTH", "auth"),
          col("INSECURE", "insecure"),
          col("SITE", "site"),
        ],
        verbs: ["list", "get", "create", "update", "delete"],
        filters: {
          id: filter("BMC id"),
          credentialId: filter("device credential id", { alias: "credential" }),
          auth: filter("basic or session"),
          insecure: { type: "boolean", describe: "accepting any TLS certificate (--no-insecure: verifying)" },
          site: filter("edge site"),
          sort: sortFilter("id, createdAt, updatedAt"),
        },
        fields: {
          id: { type: "string", describe: "the NodeBMC's component id (on create)" },
          address: {
            type: "string",
            describe: "https://host[:port], http://host:port, or host[:port] (https)",
          },
          credential: { type: "string", describe: "device credential (type redfish) that logs in" },
          auth: {
            type: "string",
            choices: ["basic", "session"],
            describe: "HTTP Basic (default) or a Redfish session",
          },
          insecure: { type: "boolean", describe: "accept any TLS certificate from this BMC" },
          site: { type: "string", describe: "edge site that reaches the BMC (default: the control plane)" },
        },
        body: (a: Args) => ({
          ...newKey(a),
          ...picked(a, {
            address: "address",
            credential: "credentialId",
            auth: "auth",
            insecure: "insecure",
            site: "site",
          }),
        }),
        examples: [
          ["$0 power bmcs list", "every endpoint"],
          [
            "$0 power bmcs create --id x1000c0s0b0 --address 10.1.3.17 --credential bmc-east --insecure",
            "add one",
          ],
        ],
        verbExamples: {
          list: [
            ["$0 power bmcs list", "every endpoint"],
            [
              "$0 power bmcs list --credential bmc-east -o json",
              "those logging in with one credential, as JSON",
            ],
          ],
          get: [["$0 power bmcs get x1000c0s0b0", "one endpoint"]],
          create: [
            [
              "$0 power bmcs create --id x1000c0s0b0 --address https://10.1.3.17 --credential bmc-east",
              "an endpoint (the NodeBMC and the credential must exist)",
            ],
            ["$0 power bmcs create -f bmc.yaml", "from a YAML or JSON document"],
          ],
          update: [
            ["$0 power bmcs update x1000c0s0b0 --address 10.1.3.18", "move it"],
            ["$0 power bmcs update x1000c0s0b0 --set site=null", "back to the control plane's agent"],
          ],
          delete: [
            ["$0 power bmcs delete x1000c0s0b0", "delete an endpoint (its nodes can then not be powered)"],
          ],
        },
      });
      return g;
    },
  );
