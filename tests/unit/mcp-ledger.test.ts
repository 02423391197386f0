/**
 * Every tool call leaves exactly one audit record, whoever answers it: the
 * tool (ok, refused by the API, not confirmed), or the SDK before any tool
 * runs (a tool that is not listed, arguments its schema refuses). The real
 * SDK client and server over its in-memory transport; the API is a
 * function answering canned documents, and each request it got is kept.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { InMemoryTransport } from "@modelcontextprotocol/sdk/inMemory.js";
import { afterEach, describe, expect, it } from "vitest";
import { registerControlRoutes } from "../../control/app";
import type { AppEnv } from "../../functions/env";
import type { McpCallRecord } from "../../functions/mcp/calls";
import { TOOLS } from "../../functions/mcp/catalog";
import { serveMcp } from "../../functions/mcp/server";
import type { McpMode } from "../../functions/mcp/settings";
import { routeTools } from "../../functions/mcp/tools";

const tools = routeTools(registerControlRoutes(new OpenAPIHono<AppEnv>()), TOOLS);

let close: (() => Promise<void>) | undefined;
afterEach(async () => {
  await close?.();
  close = undefined;
});

async function agent(mode: McpMode, answer: (r: Request) => Response) {
  const records: McpCallRecord[] = [];
  const requests: Request[] = [];
  const [clientSide, serverSide] = InMemoryTransport.createLinkedPair();
  await serveMcp(
    {
      tools,
      mode,
      transport: "stdio",
      base: "http://api",
      subject: "agent",
      sessionId: () => "s-1",
      call: async (r) => {
        requests.push(r);
        return answer(r);
      },
      // Slow on purpose: the answer must wait for the record.
      audit: async (r) => {
        await new Promise((resolve) => setTimeout(resolve, 5));
        records.push(r);
      },
    },
    serverSide,
  );
  const client = new Client({ name: "t", version: "1" });
  await client.connect(clientSide);
  close = () => client.close();
  return { client, records, requests };
}

const json = (doc: unknown, status = 200) =>
  new Response(JSON.stringify(doc), { status, headers: { "Content-Type": "application/json" } });

describe("MCP audit records", () => {
  it("one per call, written before its answer, whoever answered it", async () => {
    const { client, records, requests } = await agent("read-write", (r) =>
      r.method === "DELETE"
        ? json({ title: "Forbidden", detail: "needs write:boot" }, 403)
        : json({ spec: { id: "x1" } }),
    );
    const steps: [string, Record<string, unknown>, string][] = [
      ["smd.components.get", { id: "x1" }, "ok"],
      ["bss.bootparams.delete", { id: "bp1" }, "not-confirmed"],
      ["bss.bootparams.delete", { id: "bp1", confirm: true }, "refused"],
      // The SDK refuses these before any tool runs.
      ["smd.components.get", { id: 42 }, "refused"],
      ["no.such.tool", {}, "refused"],
    ];
    for (const [i, [name, args, outcome]] of steps.entries()) {
      await client.callTool({ name, arguments: args });
      expect(records, name).toHaveLength(i + 1);
      expect(records[i]).toMatchObject({ tool: name, outcome, sessionId: "s-1", subject: "agent" });
    }
    expect(records.map((r) => r.capability)).toEqual(["read", "write", "write", "read", null]);
    expect(records.map((r) => r.status)).toEqual([200, undefined, 403, undefined, undefined]);
    expect(records[0]!.targets).toEqual(["x1"]);
    // Two requests reached the API, each with its call's request id.
    expect(requests.map((r) => `${r.method} ${new URL(r.url).pathname}`)).toEqual([
      "GET /hsm/v2/State/Components/x1",
      "DELETE /boot/v1/bootparams/bp1",
    ]);
    expect(requests.map((r) => r.headers.get("X-Request-Id"))).toEqual([
      records[0]!.requestId,
      records[2]!.requestId,
    ]);
  });

  it("records a write tool called in read-only mode as refused, with no capability: it is not there", async () => {
    const { client, records, requests } = await agent("read-only", () => json({}));
    const r = await client.callTool({
      name: "bss.bootparams.delete",
      arguments: { id: "bp1", confirm: true },
    });
    expect(r.isError).toBe(true);
    expect(records).toMatchObject([{ tool: "bss.bootparams.delete", outcome: "refused", capability: null }]);
    expect(requests).toEqual([]);
  });
});
