/**
 * `chamicore edge` / `chamicore-edge`: the rack-local boot server. Opens the
 * replica, starts following the control plane, and serves boot scripts and
 * cloud-init from the replica whatever the state of the uplink.
 */

import type { Server } from "node:http";
import type { ServerType } from "@hono/node-server";
import { createAdaptorServer } from "@hono/node-server";
import { getConnInfo } from "@hono/node-server/conninfo";
import { servingSettingsOf } from "../../control/config";
import { createLogger, type Logger } from "../../shared/log";
import { Registry } from "../../shared/metrics";
import { VERSION } from "../../shared/version";
import { createEdgeApp } from "../app";
import { loadEdgeConfig } from "../config";
import { ControlClient } from "../control-client";
import { KeaClient } from "../kea/client";
import { KeaSync } from "../kea/sync";
import { Replica } from "../replica/replica";
import { EdgeSync } from "../sync";

export interface RunningEdge {
  url: string;
  sync: EdgeSync;
  kea: KeaSync | undefined;
  close(): Promise<void>;
}

export async function startEdge(
  env: Record<string, string | undefined> = process.env,
  opts: { logger?: Logger; resync?: boolean } = {},
): Promise<RunningEdge> {
  const config = loadEdgeConfig(env);
  const log =
    opts.logger ??
    createLogger({
      level: config.CHAMICORE_LOG_LEVEL,
      base: { service: "chamicore-edge", edge: config.CHAMICORE_EDGE_NAME },
    });
  const replica = Replica.open(config.CHAMICORE_EDGE_DATA_DIR);
  if (opts.resync) {
    replica.reset();
    log.warn("--resync: replica cleared; it is rebuilt from a fresh snapshot");
  }
  log.info("replica opened", { dir: config.CHAMICORE_EDGE_DATA_DIR, position: replica.position() });
  const registry = new Registry();
  const kea = config.KEA_CONTROL_URL
    ? new KeaSync({
        kea: new KeaClient(config.KEA_CONTROL_URL),
        hosts: () => replica.dhcpHosts(),
        logger: log.child({ part: "kea" }),
        registry,
        reconcileMs: config.CHAMICORE_KEA_RECONCILE_SECONDS * 1000,
      })
    : undefined;
  const sync = new EdgeSync({
    replica,
    control: new ControlClient(
      config.CHAMICORE_CONTROL_URL.replace(/\/+$/, ""),
      config.CHAMICORE_EDGE_CLIENT_ID && config.CHAMICORE_EDGE_CLIENT_SECRET
        ? { id: config.CHAMICORE_EDGE_CLIENT_ID, secret: config.CHAMICORE_EDGE_CLIENT_SECRET }
        : undefined,
    ),
    logger: log,
    registry,
    name: config.CHAMICORE_EDGE_NAME,
    nats: config.NATS_URL
      ? {
          servers: config.NATS_URL,
          stream: config.CHAMICORE_NATS_STREAM,
          subjectPrefix: config.CHAMICORE_NATS_SUBJECT_PREFIX,
        }
      : undefined,
    pollMs: config.CHAMICORE_EDGE_POLL_SECONDS * 1000,
    onChange: () => kea?.nudge(),
  });
  const app = createEdgeApp({
    replica,
    sync,
    kea,
    logger: log,
    registry,
    serving: servingSettingsOf(
      { ...config, CHAMICORE_PUBLIC_URL: config.CHAMICORE_EDGE_PUBLIC_URL },
      (c) => getConnInfo(c).remote.address,
    ),
  });
  const { host, port } = config.CHAMICORE_EDGE_LISTEN;
  const server = await new Promise<ServerType>((resolve, reject) => {
    const s = createAdaptorServer({ fetch: app.fetch }) as Server;
    s.keepAliveTimeout = config.CHAMICORE_EDGE_KEEPALIVE_SECONDS * 1000;
    // Thousands of nodes connect within a second of a power-on: a deeper accept queue than
    // Node's 511 (the kernel caps it at net.core.somaxconn) keeps their SYNs from being dropped.
    s.once("error", reject);
    s.listen({ host, port, backlog: 4096 }, () => resolve(s));
  }).catch((e) => {
    replica.close();
    throw e;
  });
  const addr = server.address();
  const shown = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
  const url = `http://${shown.includes(":") ? `[${shown}]` : shown}:${typeof addr === "object" && addr ? addr.port : port}`;
  sync.start();
  kea?.start();
  log.info("chamicore edge listening", { version: VERSION, url, control: config.CHAMICORE_CONTROL_URL });

  let closing: Promise<void> | undefined;
  return {
    url,
    sync,
    kea,
    close: () =>
      (closing ??= (async () => {
        await new Promise<void>((r) => server.close(() => r()));
        await sync.stop();
        // After the feed: the Kea write in flight (if any) finishes before the replica closes.
        await kea?.stop();
        replica.close();
        log.info("stopped");
      })()),
  };
}
