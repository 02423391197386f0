#!/usr/bin/env node
/**
 * The `chamicore` executable's entry: runs the CLI (control/cli/main.ts)
 * with this process's streams and exits with its code. Servers (`serve`,
 * `edge`) keep running until a signal.
 */
import { runCli } from "../cli/main";

runCli(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
}).then(
  (code) => process.exit(code),
  async (err) => {
    // Loaded only here: the operator commands never need the database modules.
    const [{ ConfigError }, { EmbeddedDatabaseBusy }] = await Promise.all([
      import("../config"),
      import("../db/node"),
    ]);
    if (err instanceof ConfigError || err instanceof EmbeddedDatabaseBusy)
      process.stderr.write(`chamicore: ${err.message}\n`);
    else
      process.stderr.write(`chamicore: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
