/**
 * The edge node's HTTP application: the control plane's own boot-script and
 * cloud-init serving handlers (functions/), answered from the SQLite
 * replica, plus health, readiness, status and metrics. Everything here is
 * public: booting nodes carry no token, and the edge sits on the rack's
 * management network.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { registerArtifactContent } from "../functions/artifacts";
import { PHONE_HOME_PATH } from "../functions/cloud-init/phone-home";
import type { AppDeps, AppEnv, ServingSettings } from "../functions/env";
import { createBaseApp } from "../shared/http/app";
import type { Logger } from "../shared/log";
import { Counter, httpMetrics, type Registry } from "../shared/metrics";
import { VERSION } from "../shared/version";
import type { WorkAgent } from "./agent/work-agent";
import type { ArtifactCache } from "./artifacts/cache";
import { createHotPath, type PeerOf, withHotPath } from "./hot-path";
import type { KeaSync } from "./kea/sync";
import type { ProgressRecorder } from "./progress/recorder";
import type { Replica } from "./replica/replica";
import { registerReplicaServing, replicaStores } from "./replica/serving";
import type { EdgeSync } from "./sync";
import type { IpxeDir } from "./tftp/ipxe-dir";
import { registerIpxeFiles } from "./tftp/ipxe-route";
import type { TftpStatus } from "./tftp/server";

export function createEdgeApp(opts: {
  replica: Replica;
  sync: EdgeSync;
  kea?: KeaSync;
  /** The site's work agent (with NATS), shown in /status. */
  agent?: Pick<WorkAgent, "status">;
  logger: Logger;
  registry: Registry;
  serving: ServingSettings;
  /** The TFTP server's state for /status (started after the app); null: TFTP is off. */
  tftp?: () => TftpStatus | null;
  /** The iPXE binaries for `/boot/v1/ipxe/{file}`; none: that route answers 404. */
  ipxe?: IpxeDir;
  /** Which runtime serves it (shown by /version). */
  runtime?: "node" | "bun";
  /** The caller's address from `fetch`'s second argument, for the hot cloud-init routes; default: `serverPeer`. */
  peerOf?: PeerOf;
  /** false: every route through the normal stack (comparisons, benchmarks); default true. */
  hotPath?: boolean;
  /** A tracing SDK runs: the hot routes make a span of each answer it keeps (see hot-path.ts). */
  traced?: { ratio: number | undefined };
  /** Where the boot stages its answers show go (./progress/recorder.ts); default: nowhere. */
  progress?: ProgressRecorder;
  /** The verified artifact cache (./artifacts/cache.ts): serves `/boot/v1/artifacts/{sha256}/{name}`; none: that route is absent. */
  artifacts?: Pick<ArtifactCache, "files" | "urlFor" | "origin" | "status">;
}): OpenAPIHono<AppEnv> {
  const { replica, sync, registry, artifacts } = opts;
  const metrics = httpMetrics(registry);
  const app = createBaseApp<AppEnv>({
    logger: opts.logger,
    metrics,
    quietAccessLog: true,
    // cloud-init's phone_home posts a form.
    formPaths: [PHONE_HOME_PATH],
  });
  const deps = {
    logger: opts.logger,
    registry,
    runtime: opts.runtime ?? "node",
    serving: opts.serving,
    // Without a recorder the stages go nowhere (a phone-home is still answered 204).
    progress: opts.progress ?? { seen() {} },
    // Boot scripts name the edge's copy of an artifact once verified, its origin until then.
    artifacts: artifacts && {
      files: artifacts.files,
      urlFor: (ref, base) => artifacts.urlFor(ref, base),
      origin: (sha256) => artifacts.origin(sha256),
    },
    stores: replicaStores(replica),
    // Every edge route is public: no token is ever checked here.
    auth: undefined as never,
  } satisfies AppDeps;
  const answers = registry.register(
    new Counter("chamicore_edge_answers_total", "Boot-script and cloud-init answers by outcome."),
  );
  app.use(async (c, next) => {
    c.set("deps", deps);
    await next();
    const path = c.req.path;
    if (path === "/boot/v1/bootscript")
      answers.inc({
        kind: "bootscript",
        outcome: c.res.headers.get("X-Chamicore-Boot") ?? String(c.res.status),
      });
    else if (path.startsWith("/cloud-init/"))
      answers.inc({ kind: "cloud-init", outcome: c.res.ok ? "served" : String(c.res.status) });
  });

  app.get("/health", (c) => c.json({ status: "ok" }));
  // 503 only until the first sync; afterwards the edge serves what it has, however stale or stalled.
  app.get("/readiness", (c) =>
    sync.ready
      ? c.json({ status: "ready" })
      : c.json({ status: "not ready", detail: "waiting for the first snapshot from the control plane" }, 503),
  );
  app.get("/version", (c) => c.json({ version: VERSION, runtime: deps.runtime, role: "edge" }));
  app.get("/status", (c) =>
    c.json({
      ...sync.status(),
      kea: opts.kea?.status() ?? null,
      agent: opts.agent?.status() ?? null,
      progress: opts.progress?.status() ?? null,
      artifacts: artifacts?.status() ?? null,
      tftp: opts.tftp?.() ?? null,
    }),
  );
  app.get("/metrics", (c) =>
    c.text(registry.render(), 200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" }),
  );
  app.use("/boot/*", deps.stores);
  app.use("/cloud-init/*", deps.stores);
  registerReplicaServing(app);
  registerIpxeFiles(app, opts.ipxe, deps.runtime);
  // Behind the `/boot/*` stores above, which hold no artifact store: the handler asks `origin` instead.
  if (artifacts) registerArtifactContent(app);
  if (opts.hotPath === false) return app;
  // The boot script and the documents skip the stack above when nothing about the request is unusual.
  return withHotPath(
    app,
    createHotPath({
      boot: replica.boot,
      cloudInit: replica.cloudInit,
      serving: opts.serving,
      logger: opts.logger,
      metrics,
      answers,
      peerOf: opts.peerOf,
      progress: opts.progress,
      artifacts: deps.artifacts,
      traced: opts.traced,
    }),
  );
}
