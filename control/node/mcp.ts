/**
 * `chamicore mcp`: the MCP server over stdio for an agent on this machine.
 * The tools call the control API at CHAMICORE_ENDPOINT with a token from
 * CHAMICORE_MCP_TOKEN, else CHAMICORE_TOKEN, else (only with
 * CHAMICORE_MCP_ALLOW_CLI_CONFIG_TOKEN=true) the CLI's current context.
 * stdout carries the protocol: logs and audit records go to stderr.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { StdioServerTransport } from "@modelcontextprotocol/sdk/server/stdio.js";
import { ConfigError } from "../../functions/config";
import type { AppEnv } from "../../functions/env";
import { TOOLS } from "../../functions/mcp/catalog";
import { serveMcp } from "../../functions/mcp/server";
import { mcpModeOf } from "../../functions/mcp/settings";
import { routeTools } from "../../functions/mcp/tools";
import { createLogger, type Logger } from "../../shared/log";
import { claimsOf, openSession } from "../../shared/node/cli/session";
import { registerControlRoutes } from "../app";

type Env = Record<string, string | undefined>;

const CALL_TIMEOUT_MS = 60_000;

/** Where the token comes from, in the documented order; never the CLI's config unless allowed. */
function tokenSource(env: Env): { endpoint: string; token: () => Promise<string>; from: string } {
  const fixed = env.CHAMICORE_MCP_TOKEN || env.CHAMICORE_TOKEN;
  if (fixed) {
    if (!env.CHAMICORE_ENDPOINT)
      throw new ConfigError("CHAMICORE_ENDPOINT: set it to the control API's URL for the MCP tools to call");
    return {
      endpoint: env.CHAMICORE_ENDPOINT,
      token: async () => fixed,
      from: env.CHAMICORE_MCP_TOKEN ? "CHAMICORE_MCP_TOKEN" : "CHAMICORE_TOKEN",
    };
  }
  if (env.CHAMICORE_MCP_ALLOW_CLI_CONFIG_TOKEN !== "true")
    throw new ConfigError(
      "no token for the MCP tools: set CHAMICORE_MCP_TOKEN (or CHAMICORE_TOKEN), or CHAMICORE_MCP_ALLOW_CLI_CONFIG_TOKEN=true to use the CLI's logged-in context",
    );
  const session = openSession({}, env);
  return {
    endpoint: session.endpoint,
    token: () => session.token(),
    from: `the CLI context ${session.contextName}`,
  };
}

/** Runs until the agent closes stdin. */
export async function runMcp(
  env: Env,
  log: Logger = createLogger({ write: (line) => process.stderr.write(`${line}\n`) }),
): Promise<void> {
  const mode = mcpModeOf(env);
  const source = tokenSource(env);
  const tools = routeTools(registerControlRoutes(new OpenAPIHono<AppEnv>()), TOOLS);
  let subject: string | undefined;
  try {
    subject = String(claimsOf(await source.token()).sub ?? "") || undefined;
  } catch {
    // Not a JWT we can read: the API will say so on the first call.
  }
  // One session per process: the records of one agent's run share it.
  const sessionId = crypto.randomUUID();
  const transport = new StdioServerTransport();
  const server = await serveMcp(
    {
      tools,
      mode,
      transport: "stdio",
      base: source.endpoint,
      subject,
      call: async (request) => {
        request.headers.set("Authorization", `Bearer ${await source.token()}`);
        // A control plane that stops answering fails the call rather than hang the agent.
        return fetch(request, { signal: AbortSignal.timeout(CALL_TIMEOUT_MS) });
      },
      sessionId: () => sessionId,
      audit: (record) => log.info("mcp tool call", { ...record }),
    },
    transport,
  );
  const closed = new Promise<void>((resolve) => {
    const onclose = transport.onclose;
    transport.onclose = () => {
      onclose?.();
      resolve();
    };
    process.stdin.once("end", () => resolve());
  });
  log.info("MCP server on stdio", {
    mode,
    endpoint: source.endpoint,
    token: source.from,
    tools: tools.length,
  });
  await closed;
  await server.close();
}
