/**
 * The `chamicore` command: the servers (serve, migrate, edge) and the
 * operator CLI against a control API, one yargs tree so that `--help`,
 * completion and errors behave the same everywhere. Exit codes: errors.ts.
 */
import yargs, { type Argv } from "yargs";
import { type Cli, type CliIo, globalOptions } from "../../shared/node/cli/app";
import { runTree } from "../../shared/node/cli/run";
import { VERSION } from "../../shared/version";
import { auditCommands } from "./commands/audit";
import { authAdminCommands } from "./commands/auth-admin";
import { bootCommands } from "./commands/boot";
import { bssCommands } from "./commands/bss";
import { cloudInitCommands } from "./commands/cloud-init";
import { discoveryCommands } from "./commands/discovery";
import { exportCommands } from "./commands/export";
import { importCommands } from "./commands/import";
import { nodeCommands } from "./commands/node";
import { powerCommands } from "./commands/power";
import { rotateKeysCommand, serverCommands } from "./commands/server";
import { sessionCommands } from "./commands/session";
import { smdCommands } from "./commands/smd";
import type { CommandModule } from "./groups";

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
  exportCommands,
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

/** Runs `chamicore` with `argv`; resolves to the exit code. */
export const runCli = (argv: string[], io: CliIo): Promise<number> =>
  runTree("chamicore", buildCli, argv, io);
