/**
 * One MCP server over the route tools, for any transport: stdio in
 * `chamicore mcp`, streamable HTTP at `/mcp` on the control plane. In
 * read-only mode the write tools are not listed at all. A destructive
 * tool without `confirm: true` says what it would do and does nothing.
 * Every tool call leaves exactly one audit record, without tokens or
 * bodies: made by the tool when it runs, and by the transport's watch
 * (./ledger.ts) for a call the SDK refused before any tool ran.
 */

import { z } from "@hono/zod-openapi";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import { CfWorkerJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/cfworker";
import { abortableSleep } from "../../shared/sleeper";
import { VERSION } from "../../shared/version";
import {
  audited,
  type CallTarget,
  failed,
  type McpServerOptions,
  problemText,
  resultOf,
  startCall,
  type ToolCall,
  targetsOf,
  text,
  toolsFor,
} from "./calls";
import { CallLedger } from "./ledger";
import { registerSummary, SUMMARY_TOOL } from "./summary";
import type { RouteTool } from "./tools";
import { WAITS, type WaitEntry } from "./waits";

export type { McpCallRecord, McpServerOptions, McpTransport } from "./calls";

/**
 * The MCP server for `o`, connected to `transport`. The transport is
 * watched (./ledger.ts) so that a tool call the SDK refuses before any
 * tool runs (unknown tool, arguments not matching its schema) is recorded too.
 */
export async function serveMcp(o: McpServerOptions, transport: Transport): Promise<McpServer> {
  // The tools as listed, by name: what a refused call named, if it was there to call.
  const listed = new Map<string, "read" | "write">();
  const ledger: CallLedger = new CallLedger((name, id) =>
    startCall(o, ledger, id, { name, capability: listed.get(name) ?? null, targets: [] }).record("refused"),
  );
  const server = createMcpServer(o, ledger, listed);
  await server.connect(ledger.watch(transport));
  return server;
}

function createMcpServer(
  o: McpServerOptions,
  ledger: CallLedger,
  listed: Map<string, "read" | "write">,
): McpServer {
  // The SDK's default validator (ajv) compiles with `new Function`, which workerd forbids.
  const server = new McpServer(
    { name: "chamicore", version: VERSION },
    { jsonSchemaValidator: new CfWorkerJsonSchemaValidator() },
  );
  const start = (id: string | number, what: CallTarget) => startCall(o, ledger, id, what);
  for (const tool of toolsFor(o.tools, o.mode)) {
    listed.set(tool.name, tool.capability);
    server.registerTool(
      tool.name,
      {
        description: `${tool.description} (${tool.method.toUpperCase()} ${tool.path}; scope ${tool.scopes.join(" or ")})`,
        inputSchema: tool.input,
        annotations: {
          readOnlyHint: tool.capability === "read",
          destructiveHint: tool.destructive !== undefined,
        },
      },
      async (args: Record<string, unknown>, extra) => {
        const call = start(extra.requestId, { ...tool, targets: targetsOf(tool, args) });
        return audited(call, tool, args, async () => {
          if (tool.destructive && args.confirm !== true) {
            const effect =
              tool.destructive === true
                ? `would ${tool.method.toUpperCase()} ${tool.path}`
                : tool.destructive(args);
            if (effect !== undefined) {
              await call.record("not-confirmed");
              return text(`Not done: this ${effect}. Call it again with confirm: true to do it.`, true);
            }
          }
          const res = await call.send(tool, args);
          if (!(res instanceof Response)) return failed(call, res);
          await call.record(res.ok ? "ok" : "refused", res);
          return resultOf(res);
        });
      },
    );
  }
  for (const wait of o.waits ?? WAITS) {
    const read = o.tools.find((t) => t.name === wait.reads);
    if (!read) continue;
    listed.set(wait.name, "read");
    registerWait(server, o, start, wait, read);
  }
  listed.set(SUMMARY_TOOL, "read");
  registerSummary(server, o.tools, start);
  registerOpenApi(server, o);
  return server;
}

/** A waiting tool: `read`'s route read until `wait` says done, with progress notifications on the way. */
function registerWait(
  server: McpServer,
  o: McpServerOptions,
  start: (id: string | number, what: CallTarget) => ToolCall,
  wait: WaitEntry,
  read: RouteTool,
) {
  server.registerTool(
    wait.name,
    {
      description: `${wait.description} (reads ${read.method.toUpperCase()} ${read.path}; scope ${read.scopes.join(" or ")})`,
      inputSchema: read.input.extend({
        timeoutSeconds: z
          .number()
          .int()
          .min(1)
          .max(3600)
          .optional()
          .describe("How long to wait at the most; default 600 s. The work goes on after it."),
      }),
      annotations: { readOnlyHint: true },
    },
    async (args: Record<string, unknown>, extra) => {
      const call = start(extra.requestId, {
        name: wait.name,
        capability: "read",
        targets: targetsOf(read, args),
      });
      return audited(call, read, args, async () => {
        const deadline = Date.now() + Number(args.timeoutSeconds ?? 600) * 1000;
        const token = extra._meta?.progressToken;
        const stop = o.signal ? AbortSignal.any([o.signal, extra.signal]) : extra.signal;
        for (;;) {
          const res = await call.send(read, args);
          if (!(res instanceof Response)) return failed(call, res);
          if (!res.ok) {
            await call.record("refused", res);
            return resultOf(res);
          }
          const body = await res.text();
          const status = wait.status((JSON.parse(body) as { spec: Record<string, unknown> }).spec);
          // Progress while it runs; the end is the answer itself (a notification sent just before
          // the answer may reach the client after it has stopped listening for that request).
          if (token !== undefined && !status.done)
            await extra.sendNotification({
              method: "notifications/progress",
              params: {
                progressToken: token,
                progress: status.progress,
                total: status.total,
                message: status.message,
              },
            });
          if (status.done) {
            await call.record("ok", res);
            return text(body);
          }
          if (Date.now() >= deadline || stop.aborted) {
            await call.record("unfinished", res);
            return text(`Not final yet: ${status.message}. Wait again to go on waiting.`, true);
          }
          await abortableSleep(o.pollMs ?? 1000, stop);
        }
      });
    },
  );
}

export const OPENAPI_URI = "chamicore://api/openapi.json";

/** The API's OpenAPI document as a resource: what every tool's route takes and answers, in full. */
function registerOpenApi(server: McpServer, o: McpServerOptions) {
  server.registerResource(
    "openapi",
    OPENAPI_URI,
    {
      title: "Chamicore control API (OpenAPI 3.1)",
      description: "Every route the tools call, with its parameters, bodies, answers and scopes",
      mimeType: "application/json",
    },
    async (uri) => {
      const res = await o.call(new Request(`${o.base.replace(/\/+$/, "")}/api/openapi.json`));
      const body = await res.text();
      if (!res.ok) throw new Error(`the API's OpenAPI document: ${problemText(res.status, body)}`);
      return { contents: [{ uri: uri.href, mimeType: "application/json", text: body }] };
    },
  );
}
