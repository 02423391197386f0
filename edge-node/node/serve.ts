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
import { runDiscoveryWork } from "../agent/discovery-work";
import { runPowerWork } from "../agent/power-work";
import { WorkAgent } from "../agent/work-agent";
import { createEdgeApp } from "../app";
import { type ApplyFailed, applyFailureOf } from "../apply-state";
import { loadEdgeConfig } from "../config";
import { ControlClient } from "../control-client";
import { KeaClient } from "../kea/client";
import { KeaSync } from "../kea/sync";
import type { RedfishCredentials } from "../redfish/client";
import { RedfishDiscoveryExecutor } from "../redfish/discovery-executor";
import { RedfishPowerExecutor } from "../redfish/power-executor";
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
  const { replica, openFailure } = openReplica(config.CHAMICORE_EDGE_DATA_DIR, log);
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
  const control = new ControlClient(
    config.CHAMICORE_CONTROL_URL.replace(/\/+$/, ""),
    config.CHAMICORE_EDGE_CLIENT_ID && config.CHAMICORE_EDGE_CLIENT_SECRET
      ? { id: config.CHAMICORE_EDGE_CLIENT_ID, secret: config.CHAMICORE_EDGE_CLIENT_SECRET }
      : undefined,
  );
  const sync = new EdgeSync({
    replica,
    control,
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
    stallMs: config.CHAMICORE_EDGE_STALL_SECONDS * 1000,
    onChange: () => kea?.nudge(),
    openFailure,
  });
  const site = config.CHAMICORE_EDGE_SITE ?? config.CHAMICORE_EDGE_NAME;
  const agent = config.NATS_URL
    ? workAgentOf(config, site, control, log.child({ part: "agent", site }))
    : undefined;
  const app = createEdgeApp({
    replica,
    sync,
    kea,
    agent,
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
  agent?.start();
  log.info("chamicore edge listening", { version: VERSION, url, control: config.CHAMICORE_CONTROL_URL });

  let closing: Promise<void> | undefined;
  return {
    url,
    sync,
    kea,
    close: () =>
      (closing ??= (async () => {
        await new Promise<void>((r) => server.close(() => r()));
        // Running power tasks stop and their results are reported before the uplink closes.
        await agent?.stop();
        await sync.stop();
        // After the feed: the Kea write in flight (if any) finishes before the replica closes.
        await kea?.stop();
        replica.close();
        log.info("stopped");
      })()),
  };
}

/**
 * Opens the replica. On a full (or failing) disk the shared-memory index
 * beside replica.db cannot be created, and an edge restarted then would not
 * serve at all: it opens the replica with the index in its own memory
 * instead, serves what it holds, and reports why it cannot take changes.
 */
function openReplica(dir: string, log: Logger): { replica: Replica; openFailure?: ApplyFailed } {
  try {
    return { replica: Replica.open(dir) };
  } catch (e) {
    const failed = applyFailureOf(e, dir);
    if (!failed?.local) throw e;
    log.warn("cannot open the replica as usual; opening it for this process alone", { err: failed.message });
    return { replica: Replica.open(dir, { exclusive: true }), openFailure: failed };
  }
}

/**
 * The agent that runs this site's power tasks and scans (edge-node/agent/):
 * one executor, so the edge's Redfish limits hold across transitions.
 */
function workAgentOf(
  config: ReturnType<typeof loadEdgeConfig>,
  site: string,
  control: ControlClient,
  logger: Logger,
): WorkAgent {
  const credentials = new Map<string, RedfishCredentials>();
  const power = {
    control,
    logger,
    credentials,
    executor: new RedfishPowerExecutor({
      concurrency: config.CHAMICORE_POWER_CONCURRENCY,
      pollMs: config.CHAMICORE_POWER_POLL_SECONDS * 1000,
      credentials: async (id) => credentials.get(id),
    }),
  };
  const discovery = {
    control,
    logger,
    credentials,
    executor: new RedfishDiscoveryExecutor({ credentials: async (id) => credentials.get(id) }),
  };
  return new WorkAgent({
    site,
    logger,
    nats: {
      servers: config.NATS_URL!,
      stream: config.CHAMICORE_NATS_STREAM,
      subjectPrefix: config.CHAMICORE_NATS_SUBJECT_PREFIX,
    },
    run: async (work, stopping) => {
      if (work.kind === "power") await runPowerWork(work, power, stopping);
      else await runDiscoveryWork(work, discovery, stopping);
    },
  });
}
