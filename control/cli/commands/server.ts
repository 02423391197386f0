/**
 * The commands that run Chamicore rather than drive it: `serve`, `migrate`,
 * `edge` (and `edge kea-config`), `auth rotate-keys` (straight on the
 * database), `version`. Loaded on demand: the operator commands never load
 * a database driver or SQLite.
 */
import type { Argv } from "yargs";
import { createLogger } from "../../../shared/log";
import type { Cli } from "../../../shared/node/cli/app";
import { CliError, EXIT } from "../../../shared/node/cli/errors";
import { untilSignal } from "../../../shared/node/until-signal";
import { VERSION } from "../../../shared/version";

export function serverCommands(y: Argv, cli: Cli): Argv {
  return (
    y
      .command(
        "serve",
        "run the control API (embedded database unless DATABASE_URL is set)",
        (c) =>
          c.example(
            "CHAMICORE_LISTEN=0.0.0.0:8080 $0 serve",
            "serve on port 8080 with the embedded database",
          ),
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
          const [{ MigrateConfigSchema }, { parseEnv }] = await Promise.all([
            import("../../config"),
            import("../../../functions/config"),
          ]);
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
        "mcp",
        "serve MCP tools over stdio for an AI agent, calling the control API with your token (read-only unless CHAMICORE_MCP_MODE=read-write and CHAMICORE_MCP_ENABLE_WRITE=true); see docs/mcp.md",
        (c) =>
          c.example(
            "CHAMICORE_ENDPOINT=https://chamicore.example.org CHAMICORE_MCP_TOKEN=… $0 mcp",
            "what an MCP client's config runs",
          ),
        async () => {
          const { runMcp } = await import("../../node/mcp");
          await runMcp(cli.env);
        },
      )
      // Listed here; the bin (control/node/bin.mjs) hands `chamicore edge …` to the edge's own CLI.
      .command(
        "edge",
        "run the rack-local edge node, or its commands (chamicore edge --help; also installed as chamicore-edge); see docs/edge.md",
        (c) => c.strict(false),
        () => {
          throw new CliError(EXIT.usage, "the edge runs through the chamicore or chamicore-edge bin");
        },
      )
      .command(
        "version",
        "print the version",
        (c) => c.example("$0 version", ""),
        () => {
          process.stdout.write(`${VERSION}\n`);
        },
      )
  );
}

/** `auth rotate-keys`, registered inside the `auth` group. */
export function rotateKeysCommand(y: Argv, cli: Cli): Argv {
  return y.command(
    "rotate-keys",
    "make a new token signing key (or with --bundle, a new bundle signing key) straight in the database (the API's POST /auth/v1/keys/rotate does the same); with the embedded database, stop the server first",
    (c) =>
      c
        .option("revoke-previous", {
          type: "boolean",
          describe: "stop accepting the previous key's tokens now",
        })
        .option("bundle", {
          type: "boolean",
          describe:
            "rotate the key that signs air-gap bundles instead; give edges the new public key (chamicore export --public-key) before they import a bundle it signed",
        })
        .example("DATABASE_URL=postgres://db/chamicore $0 auth rotate-keys", "")
        .example("DATABASE_URL=postgres://db/chamicore $0 auth rotate-keys --bundle", ""),
    async (a) => {
      const { rotateKeys } = await import("../../node/serve");
      const purpose = a.bundle === true ? "bundle" : "token";
      const rotated = await rotateKeys(cli.env, a["revoke-previous"] === true, purpose);
      process.stdout.write(
        `new ${purpose === "bundle" ? "bundle " : ""}signing key ${rotated.kid}; ${rotated.published.length} key(s) published: ${rotated.published.join(", ")}\n`,
      );
    },
  );
}
