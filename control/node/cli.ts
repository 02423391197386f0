#!/usr/bin/env node
/**
 * The `chamicore` command. Subcommands so far: serve, migrate, version.
 * (The operator CLI, `edge` and the rest arrive with their issues.)
 */
import { createLogger } from "../../shared/log";
import { VERSION } from "../../shared/version";
import { ConfigError, MigrateConfigSchema, parseEnv } from "../config";
import { EmbeddedDatabaseBusy, openDatabase } from "../db/node";
import { rotateKeys, startControl } from "./serve";

const HELP = `chamicore ${VERSION} — bare-metal HPC cluster management

Usage:
  chamicore serve      run the control API (embedded database unless DATABASE_URL is set)
  chamicore migrate    apply database migrations to DATABASE_URL (or the embedded database) and exit
  chamicore edge [--resync]
                       run the rack-local edge node: boot scripts and cloud-init from a SQLite
                       replica of the control plane (CHAMICORE_CONTROL_URL); --resync rebuilds
                       the replica from a fresh snapshot. Also installed as chamicore-edge.
  chamicore edge kea-config [--tftp-server IP] [--http-base URL] [--hooks-dir DIR]
                       print the Kea settings for two-stage network boot (client classes and
                       the flex_option hook) to merge into kea-dhcp4.conf; see docs/dhcp.md.
  chamicore version    print the version
  chamicore auth rotate-keys [--revoke-previous]
                       make a new token signing key, straight in the database (the API's
                       POST /auth/v1/keys/rotate does the same). The previous key keeps
                       verifying its tokens until they expire; --revoke-previous drops it now.

Environment: CHAMICORE_LISTEN (default 0.0.0.0:8080), CHAMICORE_DATA_DIR (default ./.chamicore),
DATABASE_URL, CHAMICORE_MASTER_KEY, CHAMICORE_LOG_LEVEL; the edge: CHAMICORE_CONTROL_URL,
CHAMICORE_EDGE_CLIENT_ID/_SECRET, NATS_URL, KEA_CONTROL_URL, CHAMICORE_EDGE_*. See the README for the full table.
`;

/** Keeps a server running until SIGINT/SIGTERM, then closes it cleanly. Returns -1: do not exit. */
function untilSignal(running: { close(): Promise<void> }): number {
  const stop = async (signal: string) => {
    process.stderr.write(`\n${signal}: shutting down\n`);
    await running.close();
    process.exit(0);
  };
  process.once("SIGINT", () => void stop("SIGINT"));
  process.once("SIGTERM", () => void stop("SIGTERM"));
  return -1;
}

async function main(argv: string[]): Promise<number> {
  const cmd = argv[0] ?? "help";
  switch (cmd) {
    case "serve": {
      const running = await startControl();
      return untilSignal(running);
    }
    case "migrate": {
      const config = parseEnv(MigrateConfigSchema, process.env);
      const log = createLogger({ level: config.CHAMICORE_LOG_LEVEL });
      const db = await openDatabase({ databaseUrl: config.DATABASE_URL, dataDir: config.CHAMICORE_DATA_DIR });
      try {
        await db.migrate();
        log.info("migrations applied", { kind: db.kind, where: db.where });
      } finally {
        await db.close();
      }
      return 0;
    }
    case "edge": {
      if (argv[1] === "kea-config") {
        const { keaConfigCommand } = await import("../../edge-node/kea/command");
        return keaConfigCommand(argv.slice(2), process.env);
      }
      const unknown = argv.slice(1).filter((a) => a !== "--resync");
      if (unknown.length > 0) {
        process.stderr.write(`chamicore: unknown option ${unknown[0]} for edge\n`);
        return 2;
      }
      // Loaded on demand: the control plane never needs SQLite.
      const { startEdge } = await import("../../edge-node/node/serve");
      const running = await startEdge(process.env, { resync: argv.includes("--resync") });
      return untilSignal(running);
    }
    case "auth": {
      if (argv[1] !== "rotate-keys") {
        process.stderr.write(
          `chamicore: unknown auth command '${argv[1] ?? ""}'; try: chamicore auth rotate-keys\n`,
        );
        return 2;
      }
      const unknown = argv.slice(2).filter((a) => a !== "--revoke-previous");
      if (unknown.length > 0) {
        process.stderr.write(`chamicore: unknown option ${unknown[0]} for auth rotate-keys\n`);
        return 2;
      }
      const rotated = await rotateKeys(process.env, argv.includes("--revoke-previous"));
      process.stdout.write(
        `new signing key ${rotated.kid}; ${rotated.published.length} key(s) published: ${rotated.published.join(", ")}\n`,
      );
      return 0;
    }
    case "version":
    case "--version":
      process.stdout.write(`${VERSION}\n`);
      return 0;
    case "help":
    case "--help":
    case "-h":
      process.stdout.write(HELP);
      return 0;
    default:
      process.stderr.write(`chamicore: unknown command '${cmd}'\n\n${HELP}`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exit(code);
  },
  (err) => {
    if (err instanceof ConfigError || err instanceof EmbeddedDatabaseBusy)
      process.stderr.write(`chamicore: ${err.message}\n`);
    else
      process.stderr.write(`chamicore: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exit(1);
  },
);
