/**
 * One MCP tool call as it runs: the request id all its API requests carry,
 * the request it sends (with the caller's token, through the server's
 * `call`), and its one audit record. Shared by the route tools, the waits
 * and the composite tools.
 */
import type { CallToolResult } from "@modelcontextprotocol/sdk/types.js";
import type { CallLedger } from "./ledger";
import type { McpMode } from "./settings";
import { badPathParam, type RouteTool, requestFor } from "./tools";
import type { WaitEntry } from "./waits";

export type McpTransport = "stdio" | "http";

/** The audit record of one tool call. */
export interface McpCallRecord {
  tool: string;
  /** null: a tool that is not there to call (a write tool in read-only mode, a typo). */
  capability: "read" | "write" | null;
  mode: McpMode;
  transport: McpTransport;
  sessionId: string | undefined;
  /** The id every API request of the call carries (X-Request-Id): it finds them in the API's log. */
  requestId: string;
  subject: string | undefined;
  /** The ids the call named (path parameters). */
  targets: string[];
  /**
   * ok; refused (the API said no, or the arguments were not the tool's);
   * not-confirmed (destructive, no confirm); unfinished (a wait that ended
   * before the work did); failed (no answer, or an answer that could not be read).
   */
  outcome: "ok" | "refused" | "not-confirmed" | "unfinished" | "failed";
  /** The API's status; undefined when no request was answered. */
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
  /** Keeps one call's record; the answer waits for it (the control plane writes it to the audit trail). */
  audit: (record: McpCallRecord) => void | Promise<void>;
  subject?: string;
  sessionId?: () => string | undefined;
  /** The request id of a call's API requests: the /mcp request's own on the control plane; default a new one per call. */
  requestId?: () => string;
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

export const text = (s: string, isError = false): CallToolResult => ({
  content: [{ type: "text", text: s }],
  isError,
});

/** What the API answered, as the agent reads it: the problem's title, detail and field errors. */
export function problemText(status: number, body: string): string {
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
  return `HTTP ${status}: ${detail}`;
}

/** What the API answered, as the agent reads it: the JSON document, or the problem with its status. */
export async function resultOf(res: Response): Promise<CallToolResult> {
  const body = await res.text();
  if (res.ok) return text(body || `${res.status} ${res.statusText || "done"}`);
  return text(`The API refused: ${problemText(res.status, body)}`, true);
}

/** What a tool says of itself in its audit record. */
export interface CallTarget {
  name: string;
  capability: McpCallRecord["capability"];
  targets: string[];
}

/** Records one call's outcome, once; the first outcome is the one kept. */
export type Recorder = (outcome: McpCallRecord["outcome"], res?: Response) => Promise<void>;

/**
 * One tool call as it runs: its request id (sent with every API request it
 * makes) and its recorder. Marks the call as recorded in the ledger, so
 * that the transport's watch does not record it a second time.
 */
export interface ToolCall {
  requestId: string;
  record: Recorder;
  send: (tool: RouteTool, args: Record<string, unknown>) => Promise<Response | Error>;
}

export function startCall(
  o: McpServerOptions,
  ledger: CallLedger,
  id: string | number,
  what: CallTarget,
): ToolCall {
  const t0 = performance.now();
  const requestId = o.requestId?.() ?? crypto.randomUUID();
  ledger.recorded(id);
  let recorded = false;
  return {
    requestId,
    async record(outcome, res) {
      if (recorded) return;
      recorded = true;
      await o.audit({
        tool: what.name,
        capability: what.capability,
        mode: o.mode,
        transport: o.transport,
        sessionId: o.sessionId?.(),
        requestId,
        subject: o.subject,
        targets: what.targets,
        outcome,
        status: res?.status,
        ms: Math.round(performance.now() - t0),
      });
    },
    async send(tool, args) {
      try {
        const request = requestFor(tool, args, o.base);
        request.headers.set("X-Request-Id", requestId);
        return await o.call(request);
      } catch (e) {
        return e as Error;
      }
    },
  };
}

export async function failed(call: ToolCall, e: Error): Promise<CallToolResult> {
  await call.record("failed");
  return text(`The API could not be reached: ${e.message}`, true);
}

/**
 * Runs a tool's call so that it always leaves its one audit record: an
 * argument naming no resource is refused before anything is sent, and a
 * failure the call did not expect is recorded and answered as a tool error.
 */
export async function audited(
  call: ToolCall,
  tool: RouteTool | undefined,
  args: Record<string, unknown>,
  run: () => Promise<CallToolResult>,
): Promise<CallToolResult> {
  const bad = tool && badPathParam(tool, args);
  if (bad !== undefined) {
    await call.record("refused");
    return text(`'${String(args[bad])}' is not a valid ${bad}`, true);
  }
  try {
    return await run();
  } catch (e) {
    await call.record("failed");
    return text(`The call failed: ${(e as Error).message}`, true);
  }
}

export const targetsOf = (tool: RouteTool, args: Record<string, unknown>) =>
  tool.pathParams.map((p) => String(args[p]));
