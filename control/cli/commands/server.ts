/**
 * The commands that run Chamicore rather than drive it: `serve`, `migrate`,
 * `edge` (and `edge kea-config`), `auth rotate-keys` (straight on the
 * database), `version`. Loaded on demand: the operator commands never load
 * a database driver or SQLite.
 */
import type { Argv, CommandModule } from "yargs";
import { KEA_CONFIG_OPTIONS, type KeaConfigFlags, keaConfigCommand } from "../../../edge-node/kea/command";
import { createLogger } from "../../../shared/log";
import { VERSION } from "../../../shared/version";
import type { Cli } from "../app";

/**
 * Starts a server and keeps it running until SIGINT/SIGTERM, then closes it
 * cleanly and exits (never resolves). The handlers go in before the start:
 * a supervisor may stop the process as soon as it says it is listening
 * (systemd's restart right after a start), and a signal that found no
 * handler would kill it by default, in the middle of its writes.
 */
async function untilSignal(start: () => Promise<{ close(): Promise<void> }>): Promise<never> {
  let running: { close(): Promise<void> } | undefined;
  let stopping = false;
  const stop = async (signal: string) => {
    stopping = true;
    process.stderr.write(`\n${signal}: shutting down\n`);
    // Signalled during the start: closed below, once the start has finished.
    if (!running) return;
    await running.close();
    process.exit(0);
  };
  process.once("SIGINT", () => void stop("SIGINT"));
  process.once("SIGTERM", () => void stop("SIGTERM"));
  running = await start();
  if (stopping) {
    await running.close();
    process.exit(0);
  }
  return new Promise<never>(() => {});
}

export function serverCommands(y: Argv, cli: Cli): Argv {
  return y
    .command(
      "serve",
      "run the control API (embedded database unless DATABASE_URL is set)",
      (c) =>
        c.example("CHAMICORE_LISTEN=0.0.0.0:8080 $0 serve", "serve on port 8080 with the embedded database"),
      async () => {
        const { startControl } = await import("../../node/serve");
        await untilSignal(() => startControl());
      },
    )
    .command(
      "migrate",
      "apply database migrations to DATABASE_URL (or the embedded database) and exit",
      (c) => c.example("DATABASE_URL=postgres://db/chamicore $0 migrate", "before starting a new version"),
      async () => {
        const { MigrateConfigSchema, parseEnv } = await import("../../config");
        const { openDatabase } = await import("../../db/node");
        const config = parseEnv(MigrateConfigSchema, cli.env);
        const log = createLogger({ level: config.CHAMICORE_LOG_LEVEL });
        const db = await openDatabase({
          databaseUrl: config.DATABASE_URL,
          dataDir: config.CHAMICORE_DATA_DIR,
        });
        try {
          await db.migrate(log);
          log.info("migrations applied", { kind: db.kind, where: db.where });
        } finally {
          await db.close();
        }
      },
    )
    .command(edgeCommand(cli))
    .command(
      "version",
      "print the version",
      (c) => c.example("$0 version", ""),
      () => {
        process.stdout.write(`${VERSION}\n`);
      },
    );
}

/** `auth rotate-keys`, registered inside the `auth` group. */
export function rotateKeysCommand(y: Argv, cli: Cli): Argv {
  return y.command(
    "rotate-keys",
    "make a new token signing key straight in the database (the API's POST /auth/v1/keys/rotate does the same); with the embedded database, stop the server first",
    (c) =>
      c
        .option("revoke-previous", {
          type: "boolean",
          describe: "stop accepting the previous key's tokens now",
        })
        .example("DATABASE_URL=postgres://db/chamicore $0 auth rotate-keys", ""),
    async (a) => {
      const { rotateKeys } = await import("../../node/serve");
      const rotated = await rotateKeys(cli.env, a["revoke-previous"] === true);
      process.stdout.write(
        `new signing key ${rotated.kid}; ${rotated.published.length} key(s) published: ${rotated.published.join(", ")}\n`,
      );
    },
  );
}

/** The edge's own commands, as subcommands of `self` (`$0 edge`, or `$0` in chamicore-edge). */
function edgeSubcommands(y: Argv, cli: Cli, self: string): Argv {
  return y
    .command(
      "list",
      "every edge that reports to the control plane, with its position, lag, feed mode, Kea sync and whether it went quiet (from the control API)",
      (l) => l.example(`${self} list`, "").example(`${self} list -o json`, ""),
      async (a) => {
        const { edgeList } = await import("./edge-list");
        await edgeList(cli, a as never);
      },
    )
    .command(
      "kea-config",
      "print the Kea client classes and flex_option hook for two-stage network boot (docs/dhcp.md)",
      (k) =>
        k
          .options(KEA_CONFIG_OPTIONS)
          .example(
            `${self} kea-config --edge-url http://10.1.0.2:8081`,
            "the edge serves iPXE itself (TFTP and HTTP)",
          )
          .example(
            `${self} kea-config --edge-url http://10.1.0.2:8081 --tftp-server 10.1.0.9`,
            "the iPXE binaries from another TFTP server",
          ),
      (a) => {
        cli.exitCode = keaConfigCommand(a as KeaConfigFlags, cli.env);
      },
    )
    .command(
      "status",
      "an edge node's replica position, lag, feed mode and Kea sync, from its /status",
      (s) =>
        s
          .option("url", {
            type: "string",
            demandOption: true,
            describe: "the edge's base URL, e.g. http://10.1.0.2:8081",
          })
          .example(`${self} status --url http://10.1.0.2:8081`, ""),
      async (a) => {
        const { edgeStatus } = await import("./edge-status");
        await edgeStatus(cli, a as never);
      },
    );
}

const runEdgeOptions = (y: Argv, self: string) =>
  y
    .option("resync", { type: "boolean", describe: "rebuild the replica from a fresh snapshot" })
    .example(
      `CHAMICORE_CONTROL_URL=https://chamicore.example.org ${self}`,
      "follow the control plane and serve the rack",
    );

async function runEdge(cli: Cli, a: Record<string, unknown>): Promise<void> {
  // Loaded on demand: the control plane never needs SQLite.
  const start = cli.io.startEdge ?? (await import("../../../edge-node/node/serve")).startEdge;
  await untilSignal(() => start(cli.env, { resync: a.resync === true }));
}

/** `chamicore edge` and its subcommands. */
export function edgeCommand(cli: Cli): CommandModule {
  return {
    command: "edge",
    describe: "run the rack-local edge node (also installed as chamicore-edge); see docs/edge.md",
    builder: (c) => edgeSubcommands(runEdgeOptions(c, "$0 edge"), cli, "$0 edge"),
    handler: (a) => runEdge(cli, a),
  };
}

/** The single `chamicore-edge` executable: runs the edge by default, its subcommands at the top. */
export function edgeExecutableCommands(y: Argv, cli: Cli): Argv {
  return edgeSubcommands(
    y.command(
      "$0",
      "run the rack-local edge node; see docs/edge.md",
      (c) => runEdgeOptions(c, "$0"),
      (a) => runEdge(cli, a),
    ),
    cli,
    "$0",
  );
}
