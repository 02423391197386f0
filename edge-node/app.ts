/**
 * The edge node's HTTP application: the control plane's own boot-script and
 * cloud-init serving handlers (functions/), answered from the SQLite
 * replica, plus health, readiness, status and metrics. Everything here is
 * public: booting nodes carry no token, and the edge sits on the rack's
 * management network.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppDeps, AppEnv, ServingSettings } from "../functions/env";
import { createBaseApp } from "../shared/http/app";
import type { Logger } from "../shared/log";
import { Counter, httpMetrics, type Registry } from "../shared/metrics";
import { VERSION } from "../shared/version";
import type { WorkAgent } from "./agent/work-agent";
import type { KeaSync } from "./kea/sync";
import type { Replica } from "./replica/replica";
import { registerReplicaServing, replicaStores } from "./replica/serving";
import type { EdgeSync } from "./sync";

export function createEdgeApp(opts: {
  replica: Replica;
  sync: EdgeSync;
  kea?: KeaSync;
  /** The site's work agent (with NATS), shown in /status. */
  agent?: Pick<WorkAgent, "status">;
  logger: Logger;
  registry: Registry;
  serving: ServingSettings;
}): OpenAPIHono<AppEnv> {
  const { replica, sync, registry } = opts;
  const app = createBaseApp<AppEnv>({
    logger: opts.logger,
    metrics: httpMetrics(registry),
    quietAccessLog: true,
  });
  const deps = {
    logger: opts.logger,
    registry,
    runtime: "node",
    serving: opts.serving,
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
  app.get("/version", (c) => c.json({ version: VERSION, runtime: "node", role: "edge" }));
  app.get("/status", (c) =>
    c.json({ ...sync.status(), kea: opts.kea?.status() ?? null, agent: opts.agent?.status() ?? null }),
  );
  app.get("/metrics", (c) =>
    c.text(registry.render(), 200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" }),
  );
  app.use("/boot/*", deps.stores);
  app.use("/cloud-init/*", deps.stores);
  registerReplicaServing(app);
  return app;
}
