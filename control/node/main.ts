/**
 * The `chamicore` executable's main under Node: runs the CLI
 * (control/cli/main.ts) with this process's streams and exits with its
 * code. Servers (`serve`, `edge`) keep running until a signal.
 */
import { runMain } from "../../shared/node/cli/run";
import { runCli } from "../cli/main";

export function main(): void {
  runMain("chamicore", runCli, async (err) => {
    // Loaded only here: the operator commands never need the database modules.
    const [{ ConfigError }, { EmbeddedDatabaseBusy }] = await Promise.all([
      import("../../functions/config"),
      import("../db/node"),
    ]);
    return err instanceof ConfigError || err instanceof EmbeddedDatabaseBusy;
  });
}
