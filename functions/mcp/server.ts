/**
 * One MCP server over the route tools, for any transport: stdio in
 * `chamicore mcp`, streamable HTTP at `/mcp` on the control plane. In
 * read-only mode the write tools are not listed at all. A destructive
 * tool without `confirm: true` says what it would do and does nothing.
 * Every call leaves exactly one audit record, without tokens or bodies.
 */

import { z } from "@hono/zod-openapi";
import { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import { CfWorkerJsonSchemaValidator } from "@modelcontextprotocol/sdk/validation/cfworker";
import { abortableSleep } from "../../shared/sleeper";
import { VERSION } from "../../shared/version";
import type { McpMode } from "./settings";
import { badPathParam, type RouteTool, requestFor } from "./tools";
import { WAITS, type WaitEntry } from "./waits";

export type McpTransport = "stdio" | "http";

/** The audit record of one tool call. */
export interface McpCallRecord {
  tool: string;
  capability: "read" | "write";
  mode: McpMode;
  transport: McpTransport;
  sessionId: string | undefined;
  /** The API request's id (X-Request-Id), to find it in the API's own audit trail and log. */
  requestId: string | undefined;
  subject: string | undefined;
  /** The ids the call named (path parameters). */
  targets: string[];
  /**
   * ok; refused (the API said no, or the arguments name no resource);
   * not-confirmed (destructive, no confirm); unfinished (a wait that ended
   * before the work did); failed (no answer, or an answer that could not be read).
   */
  outcome: "ok" | "refused" | "not-confirmed" | "unfinished" | "failed";
  status: number | undefined;
  ms: number;
}

export interface McpServerOptions {
  tools: readonly RouteTool[];
  mode: McpMode;
  transport: McpTransport;
  /** Sends one API request (in-process on the control plane, over HTTP from `chamicore mcp`). */
  call: (request: Request) => Promise<Response>;
  /** The API's base URL the requests are made against. */
  base: string;
  audit: (record: McpCallRecord) => void;
  subject?: string;
  sessionId?: () => string | undefined;
  /** The waiting tools (./waits.ts); all of them by default. */
  waits?: readonly WaitEntry[];
  /** How often a waiting tool reads again. Default 1 s. */
  pollMs?: number;
  /** Aborts when the agent has gone (its HTTP request closed): a waiting tool stops reading. */
  signal?: AbortSignal;
}

/** Tools the mode allows: read tools always, write tools in read-write mode only. */
export const toolsFor = (tools: readonly RouteTool[], mode: McpMode) =>
  tools.filter((t) => t.capability === "read" || mode === "read-write");

const text = (s: string, isError = false): CallToolResult => ({
  content: [{ type: "text", text: s }],
  isError,
});

/** What the API answered, as the agent reads it: the JSON document, or the problem with its status. */
async function resultOf(res: Response): Promise<CallToolResult> {
  const body = await res.text();
  if (res.ok) return text(body || `${res.status} ${res.statusText || "done"}`);
  let detail = body;
  try {
    const p = JSON.parse(body) as {
      title?: string;
      detail?: string;
      errors?: { field?: string; message: string }[];
    };
    const fields = (p.errors ?? []).map((e) => `\n- ${e.field ? `${e.field}: ` : ""}${e.message}`);
    detail = [p.title, p.detail].filter(Boolean).join(": ") + fields.join("") || body;
  } catch {}
  return text(`The API refused: HTTP ${res.status}: ${detail}`, true);
}

/** The audit record of one call of `tool`, made when the call ends. */
function recorder(o: McpServerOptions, tool: RouteTool, args: Record<string, unknown>, name = tool.name) {
  const t0 = performance.now();
  let recorded = false;
  // One record per call, whatever happens after the first.
  return (outcome: McpCallRecord["outcome"], res?: Response) => {
    if (recorded) return;
    recorded = true;
    o.audit({
      tool: name,
      capability: tool.capability,
      mode: o.mode,
      transport: o.transport,
      sessionId: o.sessionId?.(),
      requestId: res?.headers.get("X-Request-Id") ?? undefined,
      subject: o.subject,
      targets: tool.pathParams.map((p) => String(args[p])),
      outcome,
      status: res?.status,
      ms: Math.round(performance.now() - t0),
    });
  };
}

/** The API's answer to a call of `tool`, or the error that kept it from answering. */
async function send(o: McpServerOptions, tool: RouteTool, args: Record<string, unknown>) {
  try {
    return await o.call(requestFor(tool, args, o.base));
  } catch (e) {
    return e as Error;
  }
}

function failed(record: ReturnType<typeof recorder>, e: Error): CallToolResult {
  record("failed");
  return text(`The API could not be reached: ${e.message}`, true);
}

/**
 * Runs a tool's call so that it always leaves its one audit record: an
 * argument naming no resource is refused before anything is sent, and a
 * failure the call did not expect is recorded and answered as a tool error.
 */
async function audited(
  record: ReturnType<typeof recorder>,
  tool: RouteTool,
  args: Record<string, unknown>,
  run: () => Promise<CallToolResult>,
): Promise<CallToolResult> {
  const bad = badPathParam(tool, args);
  if (bad !== undefined) {
    record("refused");
    return text(`'${String(args[bad])}' is not a valid ${bad}`, true);
  }
  try {
    return await run();
  } catch (e) {
    record("failed");
    return text(`The call failed: ${(e as Error).message}`, true);
  }
}

export function createMcpServer(o: McpServerOptions): McpServer {
  // The SDK's default validator (ajv) compiles with `new Function`, which workerd forbids.
  const server = new McpServer(
    { name: "chamicore", version: VERSION },
    { jsonSchemaValidator: new CfWorkerJsonSchemaValidator() },
  );
  for (const tool of toolsFor(o.tools, o.mode)) {
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
      async (args: Record<string, unknown>) => {
        const record = recorder(o, tool, args);
        return audited(record, tool, args, async () => {
          if (tool.destructive && args.confirm !== true) {
            const effect =
              tool.destructive === true
                ? `would ${tool.method.toUpperCase()} ${tool.path}`
                : tool.destructive(args);
            if (effect !== undefined) {
              record("not-confirmed");
              return text(`Not done: this ${effect}. Call it again with confirm: true to do it.`, true);
            }
          }
          const res = await send(o, tool, args);
          if (!(res instanceof Response)) return failed(record, res);
          record(res.ok ? "ok" : "refused", res);
          return resultOf(res);
        });
      },
    );
  }
  for (const wait of o.waits ?? WAITS) {
    const read = o.tools.find((t) => t.name === wait.reads);
    if (read) registerWait(server, o, wait, read);
  }
  return server;
}

/** A waiting tool: `read`'s route read until `wait` says done, with progress notifications on the way. */
function registerWait(server: McpServer, o: McpServerOptions, wait: WaitEntry, read: RouteTool) {
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
      const record = recorder(o, read, args, wait.name);
      return audited(record, read, args, async () => {
        const deadline = Date.now() + Number(args.timeoutSeconds ?? 600) * 1000;
        const token = extra._meta?.progressToken;
        const stop = o.signal ? AbortSignal.any([o.signal, extra.signal]) : extra.signal;
        for (;;) {
          const res = await send(o, read, args);
          if (!(res instanceof Response)) return failed(record, res);
          if (!res.ok) {
            record("refused", res);
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
            record("ok", res);
            return text(body);
          }
          if (Date.now() >= deadline || stop.aborted) {
            record("unfinished", res);
            return text(`Not final yet: ${status.message}. Wait again to go on waiting.`, true);
          }
          await abortableSleep(o.pollMs ?? 1000, stop);
        }
      });
    },
  );
}
