/** Boot progress (`/boot/v1/progress`, `/boot/v1/status`) and the edges' reports (`/events/v1/edges`). */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../env";
import { listEdges, listEdgesRoute, reportEdge, reportEdgeRoute } from "./edges";
import { recordProgress, recordProgressRoute } from "./record";
import { bootStatus, bootStatusRoute } from "./status";

export function registerProgress(app: OpenAPIHono<AppEnv>) {
  app.openapi(recordProgressRoute, recordProgress);
  app.openapi(bootStatusRoute, bootStatus);
  app.openapi(reportEdgeRoute, reportEdge);
  app.openapi(listEdgesRoute, listEdges);
}
