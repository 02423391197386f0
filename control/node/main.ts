/**
 * The executables' main under Node: runs the CLI (control/cli/main.ts) with
 * this process's streams and exits with its code. Servers (`serve`,
 * `edge`) keep running until a signal. `edge`: the `chamicore-edge` tree;
 * `startEdge`: how it serves (the single executable brings Bun's).
 */
import type { CliIo } from "../cli/app";
import { runCli } from "../cli/main";

export function main(opts: { edge?: boolean; startEdge?: CliIo["startEdge"] } = {}): void {
  const program = opts.edge ? "chamicore-edge" : "chamicore";
  runCli(
    process.argv.slice(2),
    {
      stdout: process.stdout,
      stderr: process.stderr,
      stdin: process.stdin,
      env: process.env,
      startEdge: opts.startEdge,
    },
    { edge: opts.edge },
  ).then(
    (code) => process.exit(code),
    async (err) => {
      // Loaded only here: the operator commands never need the database modules.
      const [{ ConfigError }, { EmbeddedDatabaseBusy }] = await Promise.all([
        import("../config"),
        import("../db/node"),
      ]);
      if (err instanceof ConfigError || err instanceof EmbeddedDatabaseBusy)
        process.stderr.write(`${program}: ${err.message}\n`);
      else
        process.stderr.write(
          `${program}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
        );
      process.exit(1);
    },
  );
}
