/**
 * `/mcp` on the control plane: the same MCP server over streamable HTTP,
 * on Node and on the Worker alike. Each request carries the agent's bearer
 * token; it is checked here (401 as the API answers it) and every tool call
 * is made in-process to the API's own routes with that same token, so
 * scopes, validation and problems are the API's.
 *
 * Nothing is kept between requests (a Worker has nowhere to keep it): a
 * server per request. The answer to `initialize` still names a session
 * (Mcp-Session-Id), which the agent sends back with every later request, so
 * that the audit trail can tell one agent's session from another's.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import { isInitializeRequest } from "@modelcontextprotocol/sdk/types.js";
import type { Context, ExecutionContext } from "hono";
import { errorFields } from "../../shared/error-fields";
import { ApiError } from "../../shared/problem";
import { toolCallEntry } from "../audit/middleware";
import { bearerToken, verifyToken } from "../auth/tokens";
import type { AppEnv } from "../env";
import type { McpCallRecord } from "./calls";
import { TOOLS } from "./catalog";
import { serveMcp } from "./server";
import { MCP_PATH } from "./settings";
import { routeTools } from "./tools";

const SESSION_HEADER = "Mcp-Session-Id";
/** A session id as the protocol allows it: visible ASCII. */
const SESSION_ID = /^[\x21-\x7e]{1,128}$/;

/** The Worker's execution context (the stores close through its waitUntil); Node has none. */
function executionContextOf(c: Context): ExecutionContext | undefined {
  try {
    return c.executionCtx;
  } catch {
    return undefined;
  }
}

/** The message as JSON, or null when it is not JSON (the transport answers that with its own error). */
async function messageOf(c: Context): Promise<unknown> {
  try {
    return await c.req.json();
  } catch {
    return null;
  }
}

/** Call after every other route is registered: the tools are read from them. */
export function registerMcp(app: OpenAPIHono<AppEnv>) {
  const tools = routeTools(app, TOOLS);
  // Not an OpenAPI operation: the protocol's own messages, each checked here and per tool.
  app.all(MCP_PATH, async (c) => {
    // Stateless: every message is a POST answered on its own. No standalone GET stream (nothing
    // would ever write to it) and no session to DELETE.
    if (c.req.method !== "POST")
      throw new ApiError("method-not-allowed", "POST MCP messages to /mcp", { headers: { Allow: "POST" } });
    const authorization = c.req.header("Authorization");
    const { keyring, settings } = c.var.deps.auth;
    const principal = await verifyToken(bearerToken(authorization), keyring, c.var.stores.auth, settings);
    c.set("principal", principal);
    const message = await messageOf(c);
    const given = c.req.header(SESSION_HEADER);
    const sessionId = isInitializeRequest(message)
      ? crypto.randomUUID()
      : given && SESSION_ID.test(given)
        ? given
        : undefined;
    const { logger } = c.var.deps;
    const audit = async (record: McpCallRecord) => {
      logger.info("mcp tool call", { ...record });
      try {
        await c.var.stores.audit.record(toolCallEntry(c, record));
      } catch (e) {
        logger.warn("audit record not written", {
          tool: record.tool,
          requestId: record.requestId,
          ...errorFields(e),
        });
      }
    };
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      // Server-sent events: a waiting tool streams its progress notifications before its answer.
      enableJsonResponse: false,
    });
    await serveMcp(
      {
        tools,
        mode: c.var.deps.mcp?.mode ?? "read-only",
        transport: "http",
        base: new URL(c.req.url).origin,
        subject: principal.sub,
        sessionId: () => sessionId,
        // Every API request of the calls carries this /mcp request's id: one id finds them all.
        requestId: () => c.get("requestId"),
        // A waiting tool stops when the agent goes away.
        signal: c.req.raw.signal,
        call: (request) => {
          request.headers.set("Authorization", authorization ?? "");
          // The API's audit trail records the agent's address, not the hop's.
          for (const h of ["X-Forwarded-For", "CF-Connecting-IP"]) {
            const v = c.req.header(h);
            if (v !== undefined) request.headers.set(h, v);
          }
          return Promise.resolve(app.request(request, undefined, c.env, executionContextOf(c)));
        },
        audit,
      },
      transport,
    );
    const res = await transport.handleRequest(c.req.raw, { parsedBody: message });
    if (sessionId && isInitializeRequest(message) && res.ok) res.headers.set(SESSION_HEADER, sessionId);
    return res;
  });
}
