import type { RouteHandler } from "@hono/zod-openapi";
import { type ListSpec, listQuerySchema, oneOf, wholeNumber } from "../../shared/list-query";
import { answers } from "../answer";
import type { AppEnv } from "../env";
import { defineRoute, json } from "../route";
import {
  AUDIT_API_VERSION,
  AUDIT_EVENT_KIND,
  AUDIT_EVENTS_PATH,
  AuditEventListSchema,
  AuditEventSchema,
} from "./schemas";

const answer = answers(AUDIT_API_VERSION);

const RFC3339 = /^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d{1,9})?([Zz]|[+-]\d{2}:\d{2})$/;

/**
 * An RFC 3339 instant as an ISO string. An unencoded `+` in a query string
 * arrives as a space, so `…T10:00:00 02:00` is read as `+02:00`.
 */
export function instant(raw: string): string {
  const s = raw.replace(/ (\d{2}:\d{2})$/, "+$1");
  const ms = RFC3339.test(s) ? Date.parse(s.replace(" ", "T").toUpperCase()) : Number.NaN;
  if (Number.isNaN(ms)) throw new Error("must be an RFC 3339 time, e.g. 2026-12-01T00:00:00Z");
  return new Date(ms).toISOString();
}

export const auditListSpec: ListSpec = {
  filters: {
    subject: { description: "Token subject, or the client id a token request tried" },
    resourceId: { description: "Resource id (see the record's resourceId)", aliases: ["resource"] },
    route: { description: "Route template, e.g. /hsm/v2/State/Components/:id, or an MCP tool's name" },
    method: {
      description: "POST, PUT, PATCH or DELETE, or MCP for the tool calls of agents",
      parse: (raw) => oneOf(["POST", "PUT", "PATCH", "DELETE", "MCP"])(raw.toUpperCase()),
    },
    status: { description: "HTTP status answered", parse: wholeNumber },
    requestId: { description: "X-Request-Id of the request" },
    action: { description: "e.g. `token issued`, `token refused: invalid_client`" },
    since: { description: "Records at or after this RFC 3339 time", parse: instant },
    until: { description: "Records before this RFC 3339 time", parse: instant },
  },
  sortable: ["time"],
  fields: Object.keys(AuditEventSchema.shape),
  defaultSort: "-time",
};

export const listAuditEventsRoute = defineRoute("admin:audit", {
  method: "get",
  path: AUDIT_EVENTS_PATH,
  tags: ["audit"],
  summary: "List audit records, newest first",
  description: [
    "One record per POST, PUT, PATCH and DELETE of the control API (refused ones included), per token issued or refused and per MCP tool call (`method=MCP`):",
    "who (subject, roles, client address), what (method, route template, resource id), the status answered and the request id.",
    "Never a body, a query string or a secret. Kept CHAMICORE_AUDIT_RETENTION_DAYS days (default 90).",
    "Filters are equality matches (comma = any of), except `since` and `until`.",
  ].join(" "),
  request: { query: listQuerySchema(auditListSpec) },
  responses: { 200: json(AuditEventListSchema, "A page of audit records") },
});

export const listAuditEvents: RouteHandler<typeof listAuditEventsRoute, AppEnv> = (c) =>
  answer.list(c, AUDIT_EVENT_KIND, auditListSpec, (q) => c.var.stores.audit.list(q));
