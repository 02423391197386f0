/**
 * The `chamicore-edge` executable: the edge's commands and nothing else, so
 * that the rack appliance carries (and holds in memory) neither the
 * operator CLI nor the control plane. Its entries: edge-node/node/cli.ts
 * under Node, edge-node/bun/main.ts in the single executable.
 */
import yargs, { type Argv } from "yargs";
import { type Cli, type CliIo, globalOptions } from "../../shared/node/cli/app";
import { runMain, runTree } from "../../shared/node/cli/run";
import { VERSION } from "../../shared/version";
import { edgeExecutableCommands } from "./commands";

function buildEdgeCli(argv: string[], cli: Cli): Argv {
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

/** Runs `chamicore-edge` with `argv`; resolves to the exit code. */
export const runEdgeCli = (argv: string[], io: CliIo): Promise<number> =>
  runTree("chamicore-edge", buildEdgeCli, argv, io);

/** The process's main; `startEdge`: how it serves (the single executable brings Bun's). */
export function edgeMain(startEdge?: CliIo["startEdge"]): void {
  runMain(
    "chamicore-edge",
    runEdgeCli,
    async (err) => err instanceof (await import("../../functions/config")).ConfigError,
    {
      startEdge,
    },
  );
}
