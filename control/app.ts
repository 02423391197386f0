/**
 * The control plane's HTTP application, shared by the Node and Workers
 * entries: the common HTTP skeleton, the operational endpoints and the
 * services. Runtime specifics (drivers, listeners) stay in the entries.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { etag } from "hono/etag";
import { registerArtifacts, UPLOAD_PATH } from "../functions/artifacts";
import { auditTrail, registerAudit } from "../functions/audit";
import { authorize, registerAuth, TOKEN_PATH } from "../functions/auth";
import { registerBoot } from "../functions/boot";
import { registerBundles } from "../functions/bundles/routes";
import { registerCloudInit } from "../functions/cloud-init";
import { PHONE_HOME_PATH } from "../functions/cloud-init/phone-home";
import { registerDiscovery } from "../functions/discovery";
import type { AppDeps, AppEnv } from "../functions/env";
import { registerEvents } from "../functions/events/routes";
import { IMPORT_BODY_LIMIT, IMPORT_PATH, registerInventory } from "../functions/inventory";
import { registerMcp } from "../functions/mcp/http";
import { MCP_PATH } from "../functions/mcp/settings";
import { registerOps } from "../functions/ops/routes";
import { registerPower } from "../functions/power";
import { registerProgress } from "../functions/progress";
import { documentSecurity } from "../functions/route";
import { createBaseApp } from "../shared/http/app";
import { cacheControlOf, UI_HEADERS, UI_PATH } from "../shared/http/ui-headers";
import { httpMetrics } from "../shared/metrics";
import { databaseFault } from "./db/faults";

export function createControlApp(deps: AppDeps): OpenAPIHono<AppEnv> {
  const app = createBaseApp<AppEnv>({
    logger: deps.logger,
    metrics: httpMetrics(deps.registry),
    largeBodies: { [IMPORT_PATH]: IMPORT_BODY_LIMIT },
    streamedBodies: UPLOAD_PATH,
    // cloud-init's phone_home posts a form.
    formPaths: [TOKEN_PATH, PHONE_HOME_PATH],
    classifyFault: databaseFault,
  });
  const full: AppDeps = { authorize, ...deps };
  app.use(async (c, next) => {
    c.set("deps", full);
    await next();
  });
  // Only the routes that read the database get a connection (token checks read revocations).
  for (const path of [
    "/readiness",
    "/metrics",
    "/hsm/*",
    "/auth/*",
    "/.well-known/*",
    "/boot/*",
    "/cloud-init/*",
    "/events/*",
    "/power/*",
    "/discovery/*",
    "/audit/*",
    MCP_PATH,
  ])
    app.use(path, deps.stores);
  // After the stores: the record is written on the request's connection, before it is released.
  app.use(auditTrail);
  // Lists answer If-None-Match from a hash of the page; single resources carry their stored etag.
  app.use("/hsm/*", etag());
  // etag() only touches GET/HEAD answers; `/x/*` also matches `/x`.
  for (const path of [
    "/auth/v1/service-accounts/*",
    "/auth/v1/credentials/*",
    "/auth/v1/revocations",
    "/boot/v1/bootparams/*",
    "/power/v1/bmcs/*",
    "/discovery/v1/targets/*",
  ])
    app.use(path, etag());
  registerControlRoutes(app);
  registerMcp(app);
  registerUi(app, deps.uiAssets);
  return app;
}

/** The web UI at /ui/ (built by `npm run build:ui`), with its own headers. */
function registerUi(app: OpenAPIHono<AppEnv>, files: AppDeps["uiAssets"]) {
  app.get(UI_PATH.slice(0, -1), (c) => c.redirect(UI_PATH, 301));
  if (!files) return;
  app.use(`${UI_PATH}*`, async (c, next) => {
    await next();
    for (const [name, value] of Object.entries(UI_HEADERS)) c.header(name, value);
    if (c.res.ok) c.header("Cache-Control", cacheControlOf(c.req.path));
  });
  app.use(`${UI_PATH}*`, files);
}

/**
 * Every route of the control API on `app`. The MCP server reads the routes'
 * schemas from an app built with this alone (no stores, nothing served).
 */
export function registerControlRoutes(app: OpenAPIHono<AppEnv>): OpenAPIHono<AppEnv> {
  registerOps(app, {
    title: "Chamicore control API",
    description:
      "Inventory, boot, cloud-init, DHCP, discovery, power and auth for bare-metal HPC clusters. Errors are RFC 9457 problem+json.",
  });
  registerInventory(app);
  registerBoot(app);
  registerArtifacts(app);
  registerCloudInit(app);
  registerProgress(app);
  registerAuth(app);
  registerEvents(app);
  registerBundles(app);
  registerPower(app);
  registerDiscovery(app);
  registerAudit(app);
  documentSecurity(app);
  return app;
}
