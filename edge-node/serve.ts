/**
 * `chamicore edge` / `chamicore-edge`: the rack-local boot server. Opens the
 * replica, starts following the control plane, and serves boot scripts and
 * cloud-init from the replica whatever the state of the uplink. Written
 * once over an `EdgeRuntime`: Node's (edge-node/node/) where a checkout runs
 * it, Bun's (edge-node/bun/) in the single executable.
 */

import type { Context } from "hono";
import { artifactRefsOf } from "../functions/artifacts/refs";
import { ConfigError, servingSettingsOf } from "../functions/config";
import type { RedfishCredentials } from "../functions/node/redfish/client";
import { RedfishDiscoveryExecutor } from "../functions/node/redfish/discovery-executor";
import { RedfishPowerExecutor } from "../functions/node/redfish/power-executor";
import { createLogger, type Logger } from "../shared/log";
import { Counter, Registry } from "../shared/metrics";
import { watchedStop } from "../shared/stopping";
import { tracingWanted } from "../shared/tracing";
import { VERSION } from "../shared/version";
import { runDiscoveryWork } from "./agent/discovery-work";
import { runPowerWork } from "./agent/power-work";
import { WorkAgent } from "./agent/work-agent";
import { createEdgeApp } from "./app";
import { type ApplyFailed, applyFailureOf } from "./apply-state";
import { ArtifactCache } from "./artifacts/cache";
import { SiteArtifacts } from "./artifacts/site-labelled";
import { replicaBootParams } from "./artifacts/wanted";
import { loadEdgeConfig } from "./config";
import { ControlClient } from "./control-client";
import { KeaClient } from "./kea/client";
import { KeaSync } from "./kea/sync";
import { startMemoryGovernor } from "./memory-governor";
import { ProgressRecorder } from "./progress/recorder";
import { EdgeReporter } from "./progress/reporter";
import { Replica } from "./replica/replica";
import type { OpenSqlite } from "./replica/sqlite";
import { EdgeSync } from "./sync";
import { openIpxeDir, startEdgeTftp } from "./tftp/edge";
import type { TftpServer } from "./tftp/server";

/** What differs between the runtimes the edge runs on: its SQLite and its HTTP server. */
export interface EdgeRuntime {
  name: "node" | "bun";
  sqlite: OpenSqlite;
  /** Serves `fetch` on host:port; resolves once listening. */
  listen(
    fetch: (req: Request, env?: unknown) => Response | Promise<Response>,
    opts: { host: string; port: number; keepAliveSeconds: number },
  ): Promise<{ port: number; close(): Promise<void> }>;
  /** The caller's address (cloud-init identifies a node by it). */
  peerAddress(c: Context): string | undefined;
  /** One full, synchronous garbage collection, where the runtime offers it (the memory governor's). */
  collectGarbage?: () => void;
}

export interface RunningEdge {
  url: string;
  sync: EdgeSync;
  kea: KeaSync | undefined;
  close(): Promise<void>;
}

export async function startEdgeOn(
  runtime: EdgeRuntime,
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
  // The SDK is loaded only when traces are asked for; boot and cloud-init requests are kept at 1%.
  const tracing = tracingWanted(env)
    ? (await import("../functions/node/tracing")).startTracing({
        serviceName: "chamicore-edge",
        attributes: { "service.instance.id": config.CHAMICORE_EDGE_NAME },
        defaultRatio: 0.01,
        env,
      })
    : undefined;
  const ipxe = await openIpxeDir(config);
  const { replica, openFailure } = openReplica(runtime.sqlite, config.CHAMICORE_EDGE_DATA_DIR, log);
  if (opts.resync) {
    replica.reset();
    log.warn("--resync: replica cleared; it is rebuilt from a fresh snapshot");
  }
  const fed = replica.status();
  if (!config.CHAMICORE_CONTROL_URL && fed.snapshotAt === null) {
    replica.close();
    await tracing?.stop();
    throw new ConfigError(
      `nothing to serve: CHAMICORE_CONTROL_URL is not set, and the replica in ${config.CHAMICORE_EDGE_DATA_DIR} has never been fed. Set CHAMICORE_CONTROL_URL to follow a control plane, or feed the replica a bundle first: chamicore edge import <bundle.tar.gz> (docs/air-gapped.md)`,
    );
  }
  log.info("replica opened", {
    dir: config.CHAMICORE_EDGE_DATA_DIR,
    position: fed.position,
    fedBy: fed.feed.by,
    source: fed.feed.source,
  });
  // The baseline against which a bundle imported beside this process is noticed.
  replica.reloadIfChangedElsewhere();
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
  // The artifacts the boot parameters name, cached on this host (edge-node/artifacts/).
  const artifacts = new ArtifactCache({
    dataDir: config.CHAMICORE_EDGE_DATA_DIR,
    controlUrl: config.CHAMICORE_CONTROL_URL,
    budget: config.CHAMICORE_EDGE_ARTIFACT_BUDGET,
    concurrency: config.CHAMICORE_EDGE_ARTIFACT_CONCURRENCY,
    bandwidth: config.CHAMICORE_EDGE_ARTIFACT_BANDWIDTH,
    registry,
    logger: log.child({ part: "artifacts" }),
  });
  // At once, so that the files found on disk are checked wanted ones first; then after every
  // applied batch, once per turn of the event loop however many batches a catch-up applies.
  let wantQueued = false;
  const wantArtifacts = () => {
    if (wantQueued) return;
    wantQueued = true;
    setTimeout(() => {
      wantQueued = false;
      try {
        if (!artifacts.stopped) artifacts.want(wantedArtifacts());
      } catch (e) {
        log.error("cannot list the artifacts the boot parameters name", { err: String(e) });
      }
    }, 0);
  };
  // None: fed by bundles alone, nothing goes up (no feed, progress, reports or site work).
  const control = config.CHAMICORE_CONTROL_URL
    ? new ControlClient(
        config.CHAMICORE_CONTROL_URL.replace(/\/+$/, ""),
        config.CHAMICORE_EDGE_CLIENT_ID && config.CHAMICORE_EDGE_CLIENT_SECRET
          ? { id: config.CHAMICORE_EDGE_CLIENT_ID, secret: config.CHAMICORE_EDGE_CLIENT_SECRET }
          : undefined,
      )
    : undefined;
  const site = config.CHAMICORE_EDGE_SITE ?? config.CHAMICORE_EDGE_NAME;
  // And what the operator labelled for this site ahead of its boot parameters.
  const labelled =
    control &&
    new SiteArtifacts({
      control,
      site,
      everyMs: config.CHAMICORE_EDGE_SITE_ARTIFACTS_SECONDS * 1000,
      logger: log.child({ part: "artifacts" }),
      onChange: () => wantArtifacts(),
    });
  const wantedArtifacts = () => artifactRefsOf(replicaBootParams(replica), labelled?.refs());
  artifacts.want(wantedArtifacts());
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
    onChange: (traces) => {
      kea?.nudge(traces);
      wantArtifacts();
    },
    openFailure,
  });
  const agent =
    config.NATS_URL && control
      ? workAgentOf(config, site, control, log.child({ part: "agent", site }))
      : undefined;
  // Boot progress and the edge's own reports go to the control plane beside the feed (docs/boot-progress.md).
  const progress = new ProgressRecorder({
    edge: config.CHAMICORE_EDGE_NAME,
    send: async (batch) => {
      if (!control) throw new Error("no control plane to send boot progress to");
      await control.call(control.api.POST("/boot/v1/progress", { body: batch }));
    },
    logger: log.child({ part: "progress" }),
    flushMs: config.CHAMICORE_EDGE_PROGRESS_SECONDS * 1000,
  });
  const reporter = new EdgeReporter({
    sync,
    kea,
    recorder: progress,
    send: async (report) => {
      if (!control) return;
      await control.call(
        control.api.PUT("/events/v1/edges/{name}", {
          params: { path: { name: config.CHAMICORE_EDGE_NAME } },
          body: report,
        }),
      );
    },
  });
  // Assigned once the HTTP side listens (a /status before then shows TFTP as off).
  let tftp: TftpServer | undefined;
  const app = createEdgeApp({
    progress,
    replica,
    sync,
    kea,
    agent,
    logger: log,
    registry,
    runtime: runtime.name,
    ipxe,
    artifacts,
    traced: tracing && { ratio: tracing.rootRatio },
    // Started once the HTTP side listens; /status reads it from then on.
    tftp: () => tftp?.status() ?? null,
    serving: servingSettingsOf(
      { ...config, CHAMICORE_PUBLIC_URL: config.CHAMICORE_EDGE_PUBLIC_URL },
      runtime.peerAddress,
    ),
  });
  const { host, port } = config.CHAMICORE_EDGE_LISTEN;
  // Requests so far: the memory governor collects only while this stands still.
  let served = 0;
  const fetch = (req: Request, env?: unknown) => {
    served++;
    return app.fetch(req, env);
  };
  const server = await runtime
    .listen(fetch, { host, port, keepAliveSeconds: config.CHAMICORE_EDGE_KEEPALIVE_SECONDS })
    .catch(async (e) => {
      await artifacts.stop();
      replica.close();
      throw e;
    });
  tftp = await startEdgeTftp(config, ipxe, log, registry).catch(async (e) => {
    await server.close();
    await artifacts.stop();
    replica.close();
    throw e;
  });
  const shown = host === "0.0.0.0" || host === "::" ? "127.0.0.1" : host;
  const url = `http://${shown.includes(":") ? `[${shown}]` : shown}:${server.port}`;
  const collections = registry.register(
    new Counter(
      "chamicore_edge_memory_collections_total",
      "Full garbage collections run because resident memory was over CHAMICORE_EDGE_MEMORY_TARGET.",
    ),
  );
  collections.inc({}, 0);
  let seen = 0;
  const governor =
    runtime.collectGarbage && config.CHAMICORE_EDGE_MEMORY_TARGET > 0
      ? startMemoryGovernor({
          targetBytes: config.CHAMICORE_EDGE_MEMORY_TARGET,
          rss: () => process.memoryUsage.rss(),
          collect: runtime.collectGarbage,
          quiet: () => {
            const quiet = served === seen;
            seen = served;
            return quiet;
          },
          onCollect: (before, after) => {
            collections.inc();
            log.debug("memory collected", { beforeMiB: mib(before), afterMiB: mib(after) });
          },
        })
      : undefined;
  sync.start();
  labelled?.start();
  if (control) {
    progress.start();
    reporter.start();
  }
  kea?.start();
  agent?.start();
  // A bundle imported beside this process (`chamicore edge import`): served from the next second.
  const importWatch = setInterval(() => {
    try {
      if (!replica.reloadIfChangedElsewhere()) return;
    } catch (e) {
      log.warn("cannot read the replica's state", { err: String(e) });
      return;
    }
    const s = replica.status();
    log.info("replica changed by another process (a bundle import): serving it", {
      position: s.position,
      fedBy: s.feed.by,
    });
    kea?.nudge();
    artifacts.rescan();
    wantArtifacts();
  }, IMPORT_WATCH_MS);
  importWatch.unref?.();
  log.info("chamicore edge listening", {
    version: VERSION,
    runtime: runtime.name,
    url,
    control: config.CHAMICORE_CONTROL_URL ?? "none: fed by bundles (chamicore edge import)",
  });

  let closing: Promise<void> | undefined;
  return {
    url,
    sync,
    kea,
    close: () =>
      (closing ??= (async () => {
        const { step, end } = watchedStop(log, 3_000);
        governor?.stop();
        clearInterval(importWatch);
        await step("HTTP server", server.close());
        await step("TFTP server", tftp?.close());
        // Downloads stop at once; their partial files stay for the next start to resume.
        labelled?.stop();
        await step("artifact downloads", artifacts.stop());
        // Running power tasks stop and their results are reported before the uplink closes.
        await step("work agent", agent?.stop());
        reporter.stop();
        // Before the uplink closes: one last try to send what the recorder keeps.
        await step("boot progress", progress.stop());
        await step("feed", sync.stop());
        // After the feed: the Kea write in flight (if any) finishes before the replica closes.
        await step("Kea sync", kea?.stop());
        replica.close();
        await step("traces", tracing?.stop());
        end();
        log.info("stopped");
      })()),
  };
}

const mib = (bytes: number) => Math.round(bytes / 2 ** 20);

/** How often a running edge looks for a bundle imported beside it. */
const IMPORT_WATCH_MS = 1000;

/**
 * Opens the replica. On a full (or failing) disk the shared-memory index
 * beside replica.db cannot be created, and an edge restarted then would not
 * serve at all: it opens the replica with the index in its own memory
 * instead, serves what it holds, and reports why it cannot take changes.
 */
function openReplica(
  sqlite: OpenSqlite,
  dir: string,
  log: Logger,
): { replica: Replica; openFailure?: ApplyFailed } {
  try {
    return { replica: Replica.open(dir, { sqlite }) };
  } catch (e) {
    const failed = applyFailureOf(e, dir);
    if (!failed?.local) throw e;
    log.warn("cannot open the replica as usual; opening it for this process alone", { err: failed.message });
    return { replica: Replica.open(dir, { sqlite, exclusive: true }), openFailure: failed };
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
