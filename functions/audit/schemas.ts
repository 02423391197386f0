/**
 * Audit trail schemas (`/audit/v1`): one record per mutating request and per
 * token issued or refused. The single source for the list's validation, the
 * answer's type and the OpenAPI document.
 */
import { z } from "@hono/zod-openapi";
import { listSchema } from "../../shared/envelope";

/** `apiVersion` of audit resources. */
export const AUDIT_API_VERSION = "audit/v1";
export const AUDIT_EVENT_KIND = "AuditEvent";
export const AUDIT_EVENTS_PATH = "/audit/v1/events";

/**
 * What the audit middleware records, and the MCP server for each tool call;
 * never a body, a query string or a header's value.
 */
export const AuditEventSchema = z
  .object({
    id: z.string().openapi({ description: "Increases with each record", example: "4711" }),
    time: z.string().openapi({ format: "date-time", description: "When the answer was given" }),
    subject: z.string().nullable().openapi({
      description:
        "The token's subject; on the token endpoint, the client id that was tried (as given, at most 255 characters); null when nobody was named",
      example: "ops",
    }),
    roles: z.array(z.string()).openapi({ description: "The token's roles (empty without a valid token)" }),
    clientAddress: z.string().nullable().openapi({
      description: "The caller's address (the TCP peer, or X-Forwarded-For through trusted proxies)",
      example: "10.0.0.5",
    }),
    method: z.string().openapi({
      description: "The HTTP method, or `MCP` for an MCP tool call",
      example: "PATCH",
    }),
    route: z.string().openapi({
      description: "The route template that answered, or `unmatched`; for an MCP tool call, the tool's name",
      example: "/hsm/v2/State/Components/:id",
    }),
    resourceId: z.string().nullable().openapi({
      description:
        "The path parameters in path order, joined by `/` (`compute/x1000c0s0b0n0` for a group member); for a create, the new resource's id",
      example: "x1000c0s0b0n0",
    }),
    status: z.number().int().openapi({
      description:
        "The HTTP status answered; for an MCP tool call, the API's answer to the tool's request, 0 when none was answered",
      example: 200,
    }),
    requestId: z.string().nullable().openapi({ description: "The X-Request-Id, to find the log lines" }),
    action: z.string().nullable().openapi({
      description:
        "What happened when the route does not say: `token issued`, `token refused: <OAuth error>`; for an MCP tool call its outcome: `ok`, `refused`, `not-confirmed`, `unfinished` or `failed`",
      example: "token refused: invalid_client",
    }),
    detail: z
      .object({
        transport: z.enum(["stdio", "http"]),
        mode: z.enum(["read-only", "read-write"]),
        capability: z.enum(["read", "write"]).nullable(),
        sessionId: z.string().nullable(),
        ms: z.number().int(),
      })
      .nullable()
      .openapi({
        description:
          "For an MCP tool call (`method` MCP): its transport, the server's mode, the tool's capability, the agent's session and the call's duration in ms; null otherwise",
      }),
  })
  .openapi(AUDIT_EVENT_KIND);
export type AuditEvent = z.infer<typeof AuditEventSchema>;

export const AuditEventListSchema = listSchema(AUDIT_EVENT_KIND, AuditEventSchema.partial());
