/**
 * The `chamicore` command: the servers (serve, migrate, edge) and the
 * operator CLI against a control API, one yargs tree so that `--help`,
 * completion and errors behave the same everywhere. Exit codes: errors.ts.
 */
import yargs, { type Argv } from "yargs";
import { VERSION } from "../../shared/version";
import { Cli, type CliIo, globalOptions } from "./app";
import { auditCommands } from "./commands/audit";
import { authAdminCommands } from "./commands/auth-admin";
import { bootCommands } from "./commands/boot";
import { bssCommands } from "./commands/bss";
import { cloudInitCommands } from "./commands/cloud-init";
import { discoveryCommands } from "./commands/discovery";
import { importCommands } from "./commands/import";
import { nodeCommands } from "./commands/node";
import { powerCommands } from "./commands/power";
import { edgeExecutableCommands, rotateKeysCommand, serverCommands } from "./commands/server";
import { sessionCommands } from "./commands/session";
import { smdCommands } from "./commands/smd";
import { describeError, EXIT } from "./errors";

/** A command group: adds its commands to the tree. */
export type CommandModule = (y: Argv, cli: Cli) => Argv;

/** The operator command groups, in --help order; one module per service area under commands/. */
const MODULES: CommandModule[] = [
  smdCommands,
  bssCommands,
  bootCommands,
  cloudInitCommands,
  nodeCommands,
  powerCommands,
  discoveryCommands,
  importCommands,
  auditCommands,
];

const EPILOGUE = `Exit codes: 0 done, 1 the API refused or failed (or is unreachable), 2 usage,
3 not logged in or not allowed, 4 partial failure (see the report).
Configuration: ~/.config/chamicore/config.yaml (contexts); CHAMICORE_ENDPOINT,
CHAMICORE_TOKEN, CHAMICORE_CONTEXT override it. Docs: docs/cli.md.`;

export function buildCli(argv: string[], cli: Cli): Argv {
  let y = yargs(argv)
    .scriptName("chamicore")
    .version(VERSION)
    .usage(`chamicore ${VERSION} — bare-metal HPC cluster management\n\nUsage: $0 <command> [options]`)
    .help()
    .alias("help", "h")
    .strict()
    .recommendCommands()
    .demandCommand(1, "say which command (chamicore --help lists them)")
    // On a terminal, its width; in a pipe, no wrapping (a narrow guess breaks words).
    .wrap(process.stdout.isTTY ? Math.min(120, process.stdout.columns || 100) : null)
    .epilogue(EPILOGUE)
    .completion("completion", "print a bash or zsh completion script (eval it in your shell's rc file)")
    .exitProcess(false);
  y = globalOptions(y);
  y = serverCommands(y, cli);
  y = sessionCommands(y, cli, (auth) => rotateKeysCommand(authAdminCommands(auth, cli), cli));
  for (const m of MODULES) y = m(y, cli);
  return y
    .example(
      "$0 auth login --endpoint https://chamicore.example.org --client-id ops",
      "log in (asks for the secret)",
    )
    .example("$0 smd components list --role Compute", "list compute nodes")
    .example("$0 import nodes.yaml", "enrol nodes from a file")
    .example(
      "$0 node provision x1000c0s0b0n0 --kernel http://img/vmlinuz --initrd http://img/initrd",
      "set a node up to boot",
    );
}

/**
 * The single `chamicore-edge` executable's tree: `chamicore edge` as the
 * default command, its subcommands at the top (`chamicore-edge status`).
 */
export function buildEdgeCli(argv: string[], cli: Cli): Argv {
  const y = yargs(argv)
    .scriptName("chamicore-edge")
    .version(VERSION)
    .usage(`chamicore-edge ${VERSION} — the rack-local edge node of Chamicore (docs/edge.md)`)
    .help()
    .alias("help", "h")
    .strict()
    .wrap(process.stdout.isTTY ? Math.min(120, process.stdout.columns || 100) : null)
    .exitProcess(false);
  return edgeExecutableCommands(globalOptions(y), cli);
}

/**
 * `--file -` as `--file=-`: yargs does not take a lone `-` as a long
 * option's value, and `-` is how every Unix tool says "standard input".
 */
function stdinValues(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith("--") && !a.includes("=") && argv[i + 1] === "-") {
      out.push(`${a}=-`);
      i++;
    } else out.push(a);
  }
  return out;
}

/** The names (and aliases) of the top-level commands. */
function topLevelCommands(y: Argv): string[] {
  const internal = (
    y as unknown as { getInternalMethods(): { getCommandInstance(): { getCommands(): string[] } } }
  )
    .getInternalMethods()
    .getCommandInstance();
  return internal.getCommands();
}

/** Runs the CLI (`edge`: the edge executable's tree); resolves to the exit code. */
export async function runCli(rawArgv: string[], io: CliIo, opts: { edge?: boolean } = {}): Promise<number> {
  const argv = stdinValues(rawArgv);
  const cli = new Cli(io);
  const program = opts.edge ? "chamicore-edge" : "chamicore";
  let usage: string | undefined;
  const y = (opts.edge ? buildEdgeCli : buildCli)(argv, cli).fail((msg, err) => {
    if (err) throw err;
    usage = msg;
    // Throwing stops yargs here: a command with a bad flag must not run.
    throw new Error(msg);
  });
  const known = topLevelCommands(y);
  try {
    await y.parseAsync();
  } catch (e) {
    if (usage === undefined) {
      const { code, text } = describeError(e);
      io.stderr.write(`${text}\n`);
      return code;
    }
  }
  if (usage !== undefined) {
    const first = argv.find((a) => !a.startsWith("-"));
    if (first !== undefined && !known.includes(first)) {
      io.stderr.write(`${program}: unknown command '${first}'. Run '${program} --help' for the list.\n`);
      return EXIT.usage;
    }
    const words = argv.filter((a) => !a.startsWith("-")).slice(0, 2);
    io.stderr.write(`${program}: ${usage} (see '${program} ${[...words, ""].join(" ")}--help')\n`);
    return EXIT.usage;
  }
  return cli.exitCode;
}
