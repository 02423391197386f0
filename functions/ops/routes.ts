/**
 * Operational endpoints: /health (process up), /readiness (database
 * reachable and migrated), /version, the OpenAPI document and its docs UI
 * (assets served locally, no CDN), all public; and /metrics.
 */
import { type OpenAPIHono, type RouteHandler, z } from "@hono/zod-openapi";
import { API_VERSION, VERSION } from "../../shared/version";
import type { AppEnv, DocsAsset } from "../env";
import { defineRoute, json } from "../route";

const tags = ["operations"];

const HealthSchema = z.object({ status: z.literal("ok") }).openapi("Health");
const ReadinessSchema = z
  .object({ status: z.enum(["ready", "not-ready"]), detail: z.string() })
  .openapi("Readiness");
const VersionSchema = z
  .object({ version: z.string(), apiVersion: z.string(), runtime: z.string() })
  .openapi("Version");

export const healthRoute = defineRoute("public", {
  method: "get",
  path: "/health",
  tags,
  summary: "Liveness: the process answers",
  responses: { 200: json(HealthSchema, "Alive") },
});
const health: RouteHandler<typeof healthRoute, AppEnv> = (c) => c.json({ status: "ok" as const }, 200);

export const readinessRoute = defineRoute("public", {
  method: "get",
  path: "/readiness",
  tags,
  summary: "Readiness: the database is reachable and migrated",
  responses: {
    200: json(ReadinessSchema, "Ready"),
    503: json(ReadinessSchema, "Not ready, with the reason"),
  },
});
const readiness: RouteHandler<typeof readinessRoute, AppEnv> = async (c) => {
  const r = await c.var.stores.system.readiness();
  return r.ok
    ? c.json({ status: "ready" as const, detail: r.detail }, 200)
    : c.json({ status: "not-ready" as const, detail: r.detail }, 503);
};

export const versionRoute = defineRoute("public", {
  method: "get",
  path: "/version",
  tags,
  summary: "Build version and runtime",
  responses: { 200: json(VersionSchema, "Version") },
});
const version: RouteHandler<typeof versionRoute, AppEnv> = (c) =>
  c.json({ version: VERSION, apiVersion: API_VERSION, runtime: c.var.deps.runtime }, 200);

/**
 * /metrics needs `read:metrics` on the API address: it reveals request
 * volumes and paths. Prometheus without a token scrapes the separate
 * listener that CHAMICORE_METRICS_LISTEN opens on Node (control/node/serve.ts).
 */
export const metricsRoute = defineRoute("read:metrics", {
  method: "get",
  path: "/metrics",
  tags,
  summary: "Prometheus metrics (text exposition format)",
  description:
    "Needs a token with read:metrics. On Node, CHAMICORE_METRICS_LISTEN also serves /metrics without a token on a separate (e.g. loopback or management) address for Prometheus.",
  responses: { 200: { description: "Metrics", content: { "text/plain": { schema: z.string() } } } },
});
const metrics: RouteHandler<typeof metricsRoute, AppEnv> = (c) =>
  c.text(c.var.deps.registry.render(), 200, { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" });

const DOCS_HTML = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Chamicore API</title>
<link rel="stylesheet" href="/api/docs/swagger-ui.css"></head>
<body><div id="ui"></div>
<script src="/api/docs/swagger-ui-bundle.js"></script>
<script src="/api/docs/init.js"></script></body></html>`;
// Kept out of the HTML so the CSP can forbid inline scripts.
const DOCS_INIT = `window.ui = SwaggerUIBundle({ url: "/api/openapi.json", dom_id: "#ui", deepLinking: true });`;

export function registerOps(app: OpenAPIHono<AppEnv>, info: { title: string; description: string }) {
  app.openapi(healthRoute, health);
  app.openapi(readinessRoute, readiness);
  app.openapi(versionRoute, version);
  app.openapi(metricsRoute, metrics);
  app.doc31("/api/openapi.json", {
    openapi: "3.1.0",
    info: { title: info.title, version: VERSION, description: info.description },
    tags: [
      { name: "inventory", description: "Components, interfaces, groups and partitions (SMD)" },
      { name: "operations", description: "Health, readiness, version, metrics" },
      { name: "boot", description: "Boot parameters and iPXE boot scripts (BSS)" },
      { name: "cloud-init", description: "cloud-init payloads and NoCloud serving" },
      { name: "events", description: "Snapshot and change feed for edge nodes" },
      { name: "power", description: "Power transitions, power status and BMC endpoints (PCS)" },
      { name: "auth", description: "Tokens, keys, service accounts, roles, revocations, device credentials" },
    ],
  });
  const immutable = { "Cache-Control": "public, max-age=86400" };
  app.get("/api/docs", (c) => c.html(DOCS_HTML));
  const asset = (name: DocsAsset, type: string) =>
    app.get(`/api/docs/${name}`, (c) => {
      const text = c.var.deps.docsAssets?.(name);
      return text === undefined ? c.notFound() : c.body(text, 200, { "Content-Type": type, ...immutable });
    });
  asset("swagger-ui-bundle.js", "text/javascript; charset=utf-8");
  asset("swagger-ui.css", "text/css; charset=utf-8");
  app.get("/api/docs/init.js", (c) =>
    c.body(DOCS_INIT, 200, { "Content-Type": "text/javascript; charset=utf-8" }),
  );
}
