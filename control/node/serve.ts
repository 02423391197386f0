/**
 * `chamicore serve` / `npm start`: the control plane on Node. Opens the
 * database (embedded PGlite unless DATABASE_URL is set), applies pending
 * migrations, listens, and shuts down cleanly on SIGINT/SIGTERM so that the
 * embedded database is closed and nothing written is lost.
 */

import type { Server } from "node:http";
import { join } from "node:path";
import { serve } from "@hono/node-server";
import { getConnInfo } from "@hono/node-server/conninfo";
import { Hono } from "hono";
import { Keyring } from "../../functions/auth";
import { ensureBootstrap } from "../../functions/auth/bootstrap";
import { unsealCredential } from "../../functions/auth/secrets";
import type { AuthSettings } from "../../functions/auth/settings";
import type { KeyPurpose } from "../../functions/auth/store";
import { servingSettingsOf } from "../../functions/config";
import { mcpModeOf } from "../../functions/mcp/settings";
import { RedfishDiscoveryExecutor } from "../../functions/node/redfish/discovery-executor";
import { RedfishPowerExecutor } from "../../functions/node/redfish/power-executor";
import { errorFields } from "../../shared/error-fields";
import { createLogger, type Logger } from "../../shared/log";
import { Registry } from "../../shared/metrics";
import { closeGracefully } from "../../shared/node/drain";
import { watchedStop } from "../../shared/stopping";
import { tracingWanted } from "../../shared/tracing";
import { VERSION } from "../../shared/version";
import { createControlApp } from "../app";
import { authSettingsOf, loadControlConfig } from "../config";
import { openDatabase } from "../db/node";
import { OutboxRelay } from "../events/relay";
import { pgStores } from "../stores";
import { PgOutbox } from "../stores/outbox";
import { DataDirArtifacts } from "./artifact-files";
import { DiscoveryAgent } from "./discovery-agent";
import { DiscoveryScheduler } from "./discovery-scheduler";
import { swaggerUiFiles } from "./docs-assets";
import { resolveMasterKey } from "./master-key";
import { PowerAgent } from "./power-agent";
import { UI_INDEX, uiFiles } from "./ui-assets";
import { WorkDispatcher } from "./work-dispatcher";

/** How often expired revocations and old audit records are pruned. */
const PRUNE_EVERY_MS = 10 * 60_000;

export interface RunningControl {
  url: string;
  /** The unauthenticated metrics URL, when CHAMICORE_METRICS_LISTEN is set. */
  metricsUrl: string | undefined;
  close(): Promise<void>;
}

type FetchHandler = Parameters<typeof serve>[0]["fetch"];

function listen(fetch: FetchHandler, hostname: string, port: number): Promise<Server> {
  return new Promise((resolveServer, reject) => {
    // Plain HTTP/1.1: no createServer option is passed.
    const s = serve({ fetch, hostname, port }, () => resolveServer(s)) as Server;
    s.once("error", reject);
  });
}

function urlOf(host: string, server: Server): string {
  const addr = server.address();
  const port = typeof addr === "object" && addr ? addr.port : 0;
  const shown = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
  return `http://${shown.includes(":") ? `[${shown}]` : shown}:${port}`;
}

/**
 * Shows a generated first-admin secret once, on the terminal and not in the
 * structured log: log pipelines keep lines, and a secret must not be kept.
 */
function announceSecret(clientId: string, clientSecret: string) {
  process.stderr.write(
    [
      "",
      "  ┌─ First start: an administrator service account was created ─────────",
      `  │ client id:     ${clientId}`,
      `  │ client secret: ${clientSecret}`,
      "  │ This secret is shown once. Get a token with:",
      `  │   curl -u '${clientId}:<secret>' -d grant_type=client_credentials <url>/auth/v1/token`,
      "  └──────────────────────────────────────────────────────────────────────",
      "",
    ].join("\n"),
  );
}

/** Bootstrap account, a signing key, and the dev-mode warning: everything auth needs before serving. */
async function prepareAuth(
  stores: ReturnType<typeof pgStores>,
  settings: AuthSettings,
  log: Logger,
  announce: (clientId: string, clientSecret: string) => void,
) {
  const result = await ensureBootstrap(stores.auth, settings);
  if (result.kind === "created") {
    log.warn("first start: created the administrator service account; its secret is shown once on stderr", {
      clientId: result.clientId,
    });
    announce(result.clientId, result.clientSecret);
  } else if (result.kind === "ensured")
    log.info("bootstrap administrator ensured", { clientId: result.clientId, changed: result.changed });
  await new Keyring(settings).signingKey(stores.auth.keys);
  if (settings.devMode)
    log.warn(
      "DEV MODE: POST /auth/v1/token gives an admin token to anyone, without credentials. Never run this on a network others can reach.",
    );
}

/** `chamicore auth rotate-keys [--bundle]`: the same rotation as the API's, straight on the database. */
export async function rotateKeys(
  env: Record<string, string | undefined>,
  revokePrevious: boolean,
  purpose: KeyPurpose = "token",
): Promise<{ kid: string; published: string[] }> {
  const config = loadControlConfig(env);
  const log = createLogger({ level: config.CHAMICORE_LOG_LEVEL, base: { service: "chamicore-control" } });
  const database = await openDatabase({
    databaseUrl: config.DATABASE_URL,
    dataDir: config.CHAMICORE_DATA_DIR,
  });
  try {
    await database.migrate();
    const masterKey = resolveMasterKey({
      fromEnv: config.CHAMICORE_MASTER_KEY,
      dataDir: config.CHAMICORE_DATA_DIR,
      log,
    });
    const { auth } = pgStores(database.db);
    const keys = purpose === "bundle" ? auth.bundleKeys : auth.keys;
    const keyring = new Keyring(authSettingsOf(config, masterKey));
    const key = await keyring.rotate(keys, revokePrevious);
    log.warn("signing key rotated", { kid: key.kid, purpose, revokePrevious });
    return { kid: key.kid, published: (await keys.published(new Date())).map((k) => k.kid) };
  } finally {
    await database.close();
  }
}

export async function startControl(
  env: Record<string, string | undefined> = process.env,
  logger?: Logger,
  opts: { announce?: (clientId: string, clientSecret: string) => void } = {},
): Promise<RunningControl> {
  const config = loadControlConfig(env);
  // Refused before anything opens: a write mode asked for without the second variable.
  const mcpMode = mcpModeOf(env);
  const log =
    logger ?? createLogger({ level: config.CHAMICORE_LOG_LEVEL, base: { service: "chamicore-control" } });
  // The SDK is loaded only when traces are asked for (OTEL_EXPORTER_OTLP_ENDPOINT).
  const tracing = tracingWanted(env)
    ? (await import("../../functions/node/tracing")).startTracing({ serviceName: "chamicore-control", env })
    : undefined;
  const database = await openDatabase({
    databaseUrl: config.DATABASE_URL,
    dataDir: config.CHAMICORE_DATA_DIR,
    onConnectionError: (err) =>
      log.warn("database connection lost; a new one is opened on next use", errorFields(err)),
  });
  log.info("database opened", { kind: database.kind, where: database.where });
  try {
    await database.migrate(log);
  } catch (e) {
    await database.close();
    throw e;
  }
  log.info("migrations applied");

  const stores = pgStores(database.db);
  let settings: AuthSettings;
  try {
    const masterKey = resolveMasterKey({
      fromEnv: config.CHAMICORE_MASTER_KEY,
      dataDir: config.CHAMICORE_DATA_DIR,
      log,
    });
    settings = authSettingsOf(config, masterKey);
    await prepareAuth(stores, settings, log, opts.announce ?? announceSecret);
  } catch (e) {
    await database.close();
    throw e;
  }
  const registry = new Registry();
  const relay = config.NATS_URL
    ? new OutboxRelay(new PgOutbox(database.db, { soleRelay: database.kind === "pglite" }), {
        servers: config.NATS_URL,
        stream: config.CHAMICORE_NATS_STREAM,
        subjectPrefix: config.CHAMICORE_NATS_SUBJECT_PREFIX,
        retentionMs: config.CHAMICORE_OUTBOX_RETENTION_DAYS * 86_400_000,
        logger: log,
        registry,
      })
    : undefined;
  relay?.start();
  /** A device credential's user name and password, unsealed just before use. */
  const bmcCredentials = async (id: string) => {
    const rec = await stores.auth.credentials.get(id);
    if (!rec) return undefined;
    const password = await unsealCredential(settings, id, rec.sealedSecret);
    return { username: rec.credential.spec.username, password };
  };
  // Power tasks of BMCs without a site run here (docs/power.md).
  const powerAgent = new PowerAgent({
    queue: stores.power,
    inventory: stores.inventory,
    registry,
    logger: log,
    executor: new RedfishPowerExecutor({
      concurrency: config.CHAMICORE_POWER_CONCURRENCY,
      pollMs: config.CHAMICORE_POWER_POLL_SECONDS * 1000,
      credentials: bmcCredentials,
    }),
  });
  powerAgent.start();
  // Scans of targets without a site run here (docs/discovery.md).
  const discoveryAgent = new DiscoveryAgent({
    queue: stores.discovery,
    inventory: stores.inventory,
    power: stores.power,
    logger: log,
    executor: new RedfishDiscoveryExecutor({ credentials: bmcCredentials }),
  });
  discoveryAgent.start();
  // Work of BMCs and targets with a site goes to that site's edges over NATS (docs/power.md).
  const dispatcher = config.NATS_URL
    ? new WorkDispatcher({
        power: stores.power,
        discovery: stores.discovery,
        nats: {
          servers: config.NATS_URL,
          stream: config.CHAMICORE_NATS_STREAM,
          subjectPrefix: config.CHAMICORE_NATS_SUBJECT_PREFIX,
        },
        logger: log.child({ part: "dispatcher" }),
      })
    : undefined;
  dispatcher?.start();
  const scheduler = new DiscoveryScheduler({
    queue: stores.discovery,
    logger: log,
    pollMs: config.CHAMICORE_DISCOVERY_SCHEDULE_POLL_SECONDS * 1000,
    started: () => {
      discoveryAgent.wake();
      dispatcher?.wake();
    },
  });
  scheduler.start();
  const ui = uiFiles();
  if (!ui)
    log.warn("the web UI is not built: /ui/ answers 404 (run `npm run build:ui`)", { missing: UI_INDEX });
  const app = createControlApp({
    logger: log,
    registry,
    runtime: "node",
    // Uploaded artifacts beside the embedded database (or alone, with DATABASE_URL).
    artifacts: { files: new DataDirArtifacts(join(config.CHAMICORE_DATA_DIR, "artifacts")) },
    power: {
      maxNodes: config.CHAMICORE_POWER_MAX_NODES,
      wake: () => {
        powerAgent.wake();
        dispatcher?.wake();
      },
    },
    discovery: {
      wake: () => {
        discoveryAgent.wake();
        dispatcher?.wake();
      },
    },
    stores: async (c, next) => {
      c.set("stores", stores);
      await next();
      // A write has committed (or failed): let the relay look at once rather than at its next poll.
      if (relay && c.req.method !== "GET" && c.req.method !== "HEAD") relay.wake();
    },
    auth: { settings, keyring: new Keyring(settings), bundleKeyring: new Keyring(settings) },
    serving: servingSettingsOf(config, (c) => getConnInfo(c).remote.address),
    docsAssets: swaggerUiFiles(),
    uiAssets: ui,
    mcp: { mode: mcpMode },
  });
  const prune = setInterval(() => {
    stores.auth.revocations.prune(new Date()).then(
      (n) => n > 0 && log.info("expired revocations pruned", { count: n }),
      (e: Error) => log.warn("pruning revocations failed", errorFields(e)),
    );
    stores.audit.prune(new Date(Date.now() - config.CHAMICORE_AUDIT_RETENTION_DAYS * 86_400_000)).then(
      (n) => n > 0 && log.info("old audit records pruned", { count: n }),
      (e: Error) => log.warn("pruning audit records failed", errorFields(e)),
    );
  }, PRUNE_EVERY_MS);
  prune.unref();

  const { host, port } = config.CHAMICORE_LISTEN;
  const server = await listen(app.fetch, host, port);
  const url = urlOf(host, server);
  log.info("chamicore control plane listening", {
    version: VERSION,
    url,
    docs: `${url}/api/docs`,
    ...(ui ? { ui: `${url}/ui/` } : {}),
  });

  let metricsServer: Server | undefined;
  let metricsUrl: string | undefined;
  if (config.CHAMICORE_METRICS_LISTEN) {
    const m = config.CHAMICORE_METRICS_LISTEN;
    const metricsApp = new Hono();
    metricsApp.get("/metrics", (c) =>
      c.text(registry.render(), 200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" }),
    );
    metricsServer = await listen(metricsApp.fetch, m.host, m.port);
    metricsUrl = `${urlOf(m.host, metricsServer)}/metrics`;
    log.info("metrics listening without authentication", { url: metricsUrl });
  }

  let closing: Promise<void> | undefined;
  return {
    url,
    metricsUrl,
    close: () =>
      (closing ??= (async () => {
        clearInterval(prune);
        const { step, end } = watchedStop(log);
        await Promise.all([
          step("power agent", powerAgent.stop()),
          step("discovery agent", discoveryAgent.stop()),
          step("work dispatcher", dispatcher?.stop()),
          step("discovery scheduler", scheduler.stop()),
        ]);
        await step("outbox relay", relay?.stop());
        if (metricsServer) await step("metrics listener", closeGracefully(metricsServer));
        await step("HTTP connections", closeGracefully(server));
        await step("database", database.close());
        await step("traces", tracing?.stop());
        end();
        log.info("stopped");
      })()),
  };
}
