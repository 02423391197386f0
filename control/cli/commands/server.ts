/**
 * The commands that run Chamicore rather than drive it: `serve`, `migrate`,
 * `edge` (and `edge kea-config`), `auth rotate-keys` (straight on the
 * database), `version`. Loaded on demand: the operator commands never load
 * a database driver or SQLite.
 */
import type { Argv } from "yargs";
import { KEA_CONFIG_OPTIONS, type KeaConfigFlags, keaConfigCommand } from "../../../edge-node/kea/command";
import { createLogger } from "../../../shared/log";
import { VERSION } from "../../../shared/version";
import type { Cli } from "../app";

/** Keeps a server running until SIGINT/SIGTERM, then closes it cleanly and exits (never resolves). */
function untilSignal(running: { close(): Promise<void> }): Promise<never> {
  return new Promise(() => {
    const stop = async (signal: string) => {
      process.stderr.write(`\n${signal}: shutting down\n`);
      await running.close();
      process.exit(0);
    };
    process.once("SIGINT", () => void stop("SIGINT"));
    process.once("SIGTERM", () => void stop("SIGTERM"));
  });
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
        await untilSignal(await startControl());
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
    .command(
      "edge",
      "run the rack-local edge node (also installed as chamicore-edge); see docs/edge.md",
      (c) =>
        c
          .option("resync", { type: "boolean", describe: "rebuild the replica from a fresh snapshot" })
          .command(
            "kea-config",
            "print the Kea client classes and flex_option hook for two-stage network boot (docs/dhcp.md)",
            (k) =>
              k
                .options(KEA_CONFIG_OPTIONS)
                .example("$0 edge kea-config --edge-url http://10.1.0.2:8081 --tftp-server 10.1.0.2", ""),
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
                .example("$0 edge status --url http://10.1.0.2:8081", ""),
            async (a) => {
              const { edgeStatus } = await import("./edge-status");
              await edgeStatus(cli, a as never);
            },
          )
          .example(
            "CHAMICORE_CONTROL_URL=https://chamicore.example.org $0 edge",
            "follow the control plane and serve the rack",
          ),
      async (a) => {
        // Loaded on demand: the control plane never needs SQLite.
        const { startEdge } = await import("../../../edge-node/node/serve");
        await untilSignal(await startEdge(cli.env, { resync: a.resync === true }));
      },
    )
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
