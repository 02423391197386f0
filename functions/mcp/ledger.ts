/**
 * Which tool calls have left their audit record. A tool records its own
 * call when it runs; the SDK answers some calls before any tool runs (a
 * tool that is not listed, arguments its schema refuses). The ledger sits
 * between the server and its transport: it notes each `tools/call` that
 * comes in and, before the answer to one goes out, records it as refused
 * when no tool did. So every call leaves exactly one record.
 */
import type { Transport } from "@modelcontextprotocol/sdk/shared/transport.js";
import {
  isJSONRPCErrorResponse,
  isJSONRPCRequest,
  isJSONRPCResultResponse,
  type JSONRPCMessage,
} from "@modelcontextprotocol/sdk/types.js";

type Id = string | number;

export class CallLedger {
  /** tools/call requests not answered yet, with the tool they named. */
  private readonly open = new Map<Id, string>();
  private readonly done = new Set<Id>();

  /** `unrecorded` records a call no tool ran for; the answer waits for it. */
  constructor(private readonly unrecorded: (tool: string, id: Id) => Promise<void>) {}

  /** A tool has recorded the call `id` (its `extra.requestId`). */
  recorded(id: Id) {
    this.done.add(id);
  }

  private arrived(m: JSONRPCMessage) {
    if (isJSONRPCRequest(m) && m.method === "tools/call")
      this.open.set(m.id, String((m.params as { name?: unknown } | undefined)?.name ?? ""));
  }

  private async answering(m: JSONRPCMessage) {
    if (!isJSONRPCResultResponse(m) && !isJSONRPCErrorResponse(m)) return;
    const id = m.id;
    if (id === undefined) return;
    const tool = this.open.get(id);
    if (tool === undefined) return;
    this.open.delete(id);
    const recorded = this.done.delete(id);
    if (!recorded) await this.unrecorded(tool, id);
  }

  /** `transport`, watched: the server connects to what this returns. */
  watch(transport: Transport): Transport {
    const ledger = this;
    const watched: Transport = {
      start: () => transport.start(),
      close: () => transport.close(),
      async send(message, options) {
        await ledger.answering(message);
        return transport.send(message, options);
      },
      get sessionId() {
        return transport.sessionId;
      },
      setProtocolVersion: (v) => transport.setProtocolVersion?.(v),
    };
    transport.onmessage = (m, extra) => {
      ledger.arrived(m);
      watched.onmessage?.(m, extra);
    };
    transport.onclose = () => watched.onclose?.();
    transport.onerror = (e) => watched.onerror?.(e);
    return watched;
  }
}
