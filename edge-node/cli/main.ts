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

const buildEdgeCli =
  (program: string) =>
  (argv: string[], cli: Cli): Argv => {
    const y = yargs(argv)
      .scriptName(program)
      .version(VERSION)
      .usage(`${program} ${VERSION} — the rack-local edge node of Chamicore (docs/edge.md)`)
      .help()
      .alias("help", "h")
      .strict()
      .wrap(process.stdout.isTTY ? Math.min(120, process.stdout.columns || 100) : null)
      .exitProcess(false);
    return edgeExecutableCommands(globalOptions(y), cli);
  };

/** Runs the edge's commands as `program` with `argv`; resolves to the exit code. */
export const runEdgeCli = (argv: string[], io: CliIo, program = "chamicore-edge"): Promise<number> =>
  runTree(program, buildEdgeCli(program), argv, io);

/**
 * The process's main; `startEdge`: how it serves (the single executable
 * brings Bun's). The chamicore bin (control/node/bin.mjs) hands `chamicore
 * edge …` here with its `edge` in place: then it runs as `chamicore edge`,
 * and its help and errors say so.
 */
export function edgeMain(startEdge?: CliIo["startEdge"], importBundle?: CliIo["importBundle"]): void {
  const viaChamicore = process.argv[2] === "edge";
  const program = viaChamicore ? "chamicore edge" : "chamicore-edge";
  runMain(
    program,
    (argv, io) => runEdgeCli(argv, io, program),
    async (err) => err instanceof (await import("../../functions/config")).ConfigError,
    { startEdge, importBundle },
    process.argv.slice(viaChamicore ? 3 : 2),
  );
}
