/**
 * `chamicore serve` / `npm start`: the control plane on Node. Opens the
 * database (embedded PGlite unless DATABASE_URL is set), applies pending
 * migrations, listens, and shuts down cleanly on SIGINT/SIGTERM so that the
 * embedded database is closed and nothing written is lost.
 */

import type { ServerType } from "@hono/node-server";
import { serve } from "@hono/node-server";
import { createLogger, type Logger } from "../../shared/log";
import { Registry } from "../../shared/metrics";
import { VERSION } from "../../shared/version";
import { createControlApp } from "../app";
import { loadControlConfig } from "../config";
import { openDatabase } from "../db/node";
import { pgStores } from "../stores";

export interface RunningControl {
  url: string;
  close(): Promise<void>;
}

export async function startControl(
  env: Record<string, string | undefined> = process.env,
  logger?: Logger,
): Promise<RunningControl> {
  const config = loadControlConfig(env);
  const log =
    logger ?? createLogger({ level: config.CHAMICORE_LOG_LEVEL, base: { service: "chamicore-control" } });
  const database = await openDatabase({
    databaseUrl: config.DATABASE_URL,
    dataDir: config.CHAMICORE_DATA_DIR,
    onIdleError: (err) =>
      log.warn("database connection lost; reconnecting on next use", { err: err.message }),
  });
  log.info("database opened", { kind: database.kind, where: database.where });
  try {
    await database.migrate();
  } catch (e) {
    await database.close();
    throw e;
  }
  log.info("migrations applied");

  const stores = pgStores(database.db);
  const app = createControlApp({
    logger: log,
    registry: new Registry(),
    runtime: "node",
    stores: async (c, next) => {
      c.set("stores", stores);
      await next();
    },
  });

  const { host, port } = config.CHAMICORE_LISTEN;
  const server: ServerType = await new Promise((resolveServer, reject) => {
    const s = serve({ fetch: app.fetch, hostname: host, port }, () => resolveServer(s));
    s.once("error", reject);
  });
  const addr = server.address();
  const boundPort = typeof addr === "object" && addr ? addr.port : port;
  const shownHost = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
  const url = `http://${shownHost.includes(":") ? `[${shownHost}]` : shownHost}:${boundPort}`;
  log.info("chamicore control plane listening", { version: VERSION, url, docs: `${url}/api/docs` });

  let closing: Promise<void> | undefined;
  return {
    url,
    close: () =>
      (closing ??= (async () => {
        await new Promise<void>((r) => server.close(() => r()));
        await database.close();
        log.info("stopped");
      })()),
  };
}
