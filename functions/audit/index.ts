/** The audit trail (`/audit/v1`): the recording middleware and the list of records. */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../env";
import { listAuditEvents, listAuditEventsRoute } from "./list";

export { auditTrail } from "./middleware";
export type { AuditEntry, AuditStore } from "./store";

export function registerAudit(app: OpenAPIHono<AppEnv>) {
  app.openapi(listAuditEventsRoute, listAuditEvents);
}
