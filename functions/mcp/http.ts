/**
 * `/mcp` on the control plane: the same MCP server over streamable HTTP,
 * on Node and on the Worker alike. Each request carries the agent's bearer
 * token; it is checked here (401 as the API answers it) and every tool call
 * is made in-process to the API's own routes with that same token, so
 * scopes, validation and problems are the API's. Stateless: a server per
 * request, nothing kept between them.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import { WebStandardStreamableHTTPServerTransport } from "@modelcontextprotocol/sdk/server/webStandardStreamableHttp.js";
import type { Context, ExecutionContext } from "hono";
import { ApiError } from "../../shared/problem";
import { bearerToken, verifyToken } from "../auth/tokens";
import type { AppEnv } from "../env";
import { TOOLS } from "./catalog";
import { createMcpServer } from "./server";
import { routeTools } from "./tools";

export const MCP_PATH = "/mcp";

/** The Worker's execution context (the stores close through its waitUntil); Node has none. */
function executionContextOf(c: Context): ExecutionContext | undefined {
  try {
    return c.executionCtx;
  } catch {
    return undefined;
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
    const server = createMcpServer({
      tools,
      mode: c.var.deps.mcp?.mode ?? "read-only",
      transport: "http",
      base: new URL(c.req.url).origin,
      subject: principal.sub,
      // A waiting tool stops when the agent goes away.
      signal: c.req.raw.signal,
      call: (request) => {
        request.headers.set("Authorization", authorization ?? "");
        // The API's audit trail records the agent's address and this request's id, not the hop's.
        for (const h of ["X-Request-Id", "X-Forwarded-For", "CF-Connecting-IP"]) {
          const v = c.req.header(h);
          if (v !== undefined) request.headers.set(h, v);
        }
        return Promise.resolve(app.request(request, undefined, c.env, executionContextOf(c)));
      },
      audit: (record) => c.var.deps.logger.info("mcp tool call", { ...record }),
    });
    const transport = new WebStandardStreamableHTTPServerTransport({
      sessionIdGenerator: undefined,
      // Server-sent events: a waiting tool streams its progress notifications before its answer.
      enableJsonResponse: false,
    });
    await server.connect(transport);
    return transport.handleRequest(c.req.raw);
  });
}
