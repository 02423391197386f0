/**
 * `chamicore mcp` as an agent's MCP client starts it: the SDK's own Client
 * spawns the real bin over stdio against a real `chamicore serve` with a
 * seeded inventory. Read-only lists no write tool and can call every read
 * tool; write tools need read-write mode (and both variables); destructive
 * ones need `confirm: true` and otherwise change nothing; a viewer's token
 * gets the API's 403; every call leaves one audit record on stderr, and no
 * record holds a token or a secret.
 */

import { spawnSync } from "node:child_process";
import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { TOOLS } from "../../functions/mcp/catalog";
import { SUMMARY_TOOL } from "../../functions/mcp/summary";
import { WAITS } from "../../functions/mcp/waits";
import { createLogger, type Logger } from "../../shared/log";
import { type EmulatedBmc, startBmc } from "../support/bmc";
import { startTestControl, type TestControl } from "../support/cli";
import { BIN } from "../support/process";
import {
  type Call,
  nodePostgresTarget,
  type Target,
  tokenFor,
  urlCall,
  workerTarget,
} from "../support/targets";

let control: TestControl;
let bmc: EmulatedBmc;
let call: Call;
let viewerToken: string;
const secrets: string[] = [];
/** The stderr of every stdio session: its log and its audit records. */
const logs: string[] = [];

const NODE = "x1000c0s0b0n0";
const MAC = "02:00:00:00:00:01";
/** The BMC's password: a secret no record may hold. */
const BMC_SECRET = "bmc-pass-7c1f0e";

/**
 * The inventory every session runs on: a node with its BMC (the emulator at
 * `bmcUrl`), an interface, a group, boot parameters, a payload, and a
 * viewer's service account. Answers the secrets it made and the viewer's token.
 */
async function seed(call: Call, bmcUrl: string) {
  const seeded = [
    await call("POST", "/hsm/v2/import", {
      body: {
        components: [
          { id: "x1000c0s0b0", type: "NodeBMC", state: "Ready" },
          { id: NODE, type: "Node", parentId: "x1000c0s0b0", state: "Ready", role: "Compute", nid: 1 },
        ],
      },
    }),
    await call("POST", "/hsm/v2/Inventory/EthernetInterfaces", {
      body: { componentId: NODE, macAddress: MAC },
    }),
    await call("POST", "/hsm/v2/groups", { body: { name: "compute", members: [NODE] } }),
    await call("POST", "/boot/v1/bootparams", {
      body: {
        id: "bp-node",
        componentId: NODE,
        kernelUri: "http://images.example/vmlinuz",
        cmdline: "console=ttyS0",
      },
    }),
    await call("POST", "/cloud-init/payloads", {
      body: { id: "pl-node", componentId: NODE, userData: "#cloud-config\nhostname: n1\n" },
    }),
    await call("POST", "/auth/v1/credentials", {
      body: { id: "bmc-cred", name: "BMCs", type: "redfish", username: "admin", secret: BMC_SECRET },
    }),
    await call("POST", "/power/v1/bmcs", {
      body: { id: "x1000c0s0b0", address: bmcUrl, credentialId: "bmc-cred" },
    }),
  ];
  for (const r of seeded) expect(r.status, r.text).toBe(201);
  const sa = await call("POST", "/auth/v1/service-accounts", { body: { id: "watcher", roles: ["viewer"] } });
  expect(sa.status, sa.text).toBe(201);
  const viewerToken = await tokenFor(call, "watcher", sa.json.spec.clientSecret);
  return { secrets: [sa.json.spec.clientSecret as string, viewerToken, BMC_SECRET], viewerToken };
}

beforeAll(async () => {
  [control, bmc] = await Promise.all([
    startTestControl({ CHAMICORE_POWER_POLL_SECONDS: "0.02" }),
    startBmc({ initialPowerState: "Off", powerDelayMs: 1500, password: BMC_SECRET }),
  ]);
  secrets.push(control.admin.secret, control.adminToken);
  const raw = urlCall(control.url);
  call = (method, path, init = {}) => raw(method, path, { token: control.adminToken, ...init });
  const seeded = await seed(call, bmc.url);
  secrets.push(...seeded.secrets);
  viewerToken = seeded.viewerToken;
}, 120_000);

afterAll(async () => {
  await control?.stop();
  await bmc?.close();
});

/** An agent session: the SDK client over stdio to `chamicore mcp`, and the audit records it left. */
async function session(env: Record<string, string>) {
  const transport = new StdioClientTransport({
    command: process.execPath,
    args: [BIN, "mcp"],
    env: { PATH: process.env.PATH ?? "", HOME: "/nonexistent", CHAMICORE_ENDPOINT: control.url, ...env },
    stderr: "pipe",
  });
  let stderr = "";
  const index = logs.push("") - 1;
  transport.stderr?.on("data", (d) => {
    stderr += d;
    logs[index] = stderr;
  });
  const client = new Client({ name: "test-agent", version: "1.0.0" });
  await client.connect(transport);
  return {
    client,
    records: () =>
      stderr
        .split("\n")
        .filter((l) => l.includes('"mcp tool call"'))
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    close: () => client.close(),
  };
}

const textOf = (r: Awaited<ReturnType<Client["callTool"]>>) =>
  (r.content as { type: string; text: string }[]).map((c) => c.text).join("\n");

/** Arguments for each read tool, on the seeded inventory. */
const READ_ARGS: Record<string, Record<string, unknown>> = {
  "smd.components.get": { id: NODE },
  "smd.groups.get": { name: "compute" },
  "bss.bootparams.get": { id: "bp-node" },
  "boot.script.preview": { mac: MAC },
  "cloudinit.payloads.get": { id: "pl-node" },
  "cloudinit.preview.meta-data": { id: NODE },
  "cloudinit.preview.user-data": { id: NODE },
  "cloudinit.preview.vendor-data": { id: NODE },
  "power.transitions.get": { id: "00000000-0000-0000-0000-000000000000" },
  "discovery.targets.get": { id: "none" },
  "discovery.scans.get": { id: "none" },
  "power.transitions.wait": { id: "00000000-0000-0000-0000-000000000000" },
  "discovery.scans.wait": { id: "none" },
  "events.changes": { after: 0 },
};
/** Read tools whose seeded answer is "not found": the API's 404 comes back as a tool error. */
const NOT_FOUND = new Set([
  "power.transitions.get",
  "discovery.targets.get",
  "discovery.scans.get",
  "power.transitions.wait",
  "discovery.scans.wait",
]);

/** Every tool a read-only server lists: the catalog's read tools, the waits and the summary. */
const READ_TOOLS = [...TOOLS.filter((t) => t.capability === "read"), ...WAITS, { name: SUMMARY_TOOL }]
  .map((t) => t.name)
  .sort();

/** Calls each of `tools` once on the seeded inventory: each answers, or says the API's 404. */
async function callEveryRead(client: Client, tools: { name: string }[]) {
  for (const t of tools) {
    const r = await client.callTool({ name: t.name, arguments: READ_ARGS[t.name] ?? {} });
    if (NOT_FOUND.has(t.name)) {
      expect(r.isError, t.name).toBe(true);
      expect(textOf(r), t.name).toContain("HTTP 404");
    } else expect(r.isError, `${t.name}: ${textOf(r)}`).toBeFalsy();
  }
  const summary = JSON.parse(
    textOf(await client.callTool({ name: SUMMARY_TOOL, arguments: { stuckAfterSeconds: 60 } })),
  );
  expect(summary).toMatchObject({
    controlPlane: { status: "ready" },
    nodes: { total: 1, byState: { Ready: 1 } },
    boot: { stuck: 0 },
    edges: [],
  });
}

describe("chamicore mcp (stdio)", () => {
  it("in read-only mode lists every read tool and no write tool, and answers each read from the API", async () => {
    const s = await session({ CHAMICORE_MCP_TOKEN: control.adminToken });
    try {
      const { tools } = await s.client.listTools();
      const names = tools.map((t) => t.name).sort();
      expect(names).toEqual(READ_TOOLS);
      for (const t of tools) expect(t.annotations?.readOnlyHint).toBe(true);
      await callEveryRead(s.client, tools);
      const list = await s.client.callTool({ name: "smd.components.list", arguments: { type: "Node" } });
      const page = JSON.parse(textOf(list)) as {
        items: { metadata: { id: string } }[];
        metadata: { limit: number };
      };
      expect(page.items.map((i) => i.metadata.id)).toEqual([NODE]);
      // Lists answer a bounded page unless the agent asks for more.
      expect(page.metadata.limit).toBe(50);
      const script = await s.client.callTool({ name: "boot.script.preview", arguments: { mac: MAC } });
      expect(textOf(script)).toContain("http://images.example/vmlinuz");
      const userData = await s.client.callTool({
        name: "cloudinit.preview.user-data",
        arguments: { id: NODE },
      });
      expect(textOf(userData)).toContain("hostname: n1");

      // An id that would climb out of the route is refused before anything is sent (here by the
      // route's own name pattern; requestFor's check covers ids a pattern would let through).
      const climb = await s.client.callTool({ name: "smd.groups.get", arguments: { name: ".." } });
      expect(climb.isError).toBe(true);
      expect(textOf(climb)).toMatch(/not a valid name|Input validation error/);

      // A write tool is not there to call.
      const refused = await s.client
        .callTool({ name: "bss.bootparams.delete", arguments: { id: "bp-node", confirm: true } })
        .catch((e: Error) => ({ isError: true, content: [{ type: "text", text: e.message }] }));
      expect(refused.isError).toBe(true);
      expect((await call("GET", "/boot/v1/bootparams/bp-node")).status).toBe(200);

      // One record per call: every read, the summary again, list, script, user-data, and the two
      // the SDK refused before any tool ran (the '..' name, the write tool not listed).
      const records = s.records();
      expect(records).toHaveLength(tools.length + 6);
      const sessionId = records[0]!.sessionId;
      expect(sessionId).toMatch(/^[0-9a-f-]{36}$/);
      for (const r of records)
        expect(r).toMatchObject({
          transport: "stdio",
          mode: "read-only",
          subject: control.admin.id,
          sessionId,
        });
      expect(records.slice(-2)).toMatchObject([
        { tool: "smd.groups.get", outcome: "refused", capability: "read" },
        { tool: "bss.bootparams.delete", outcome: "refused", capability: null },
      ]);
      expect(records.find((r) => r.tool === "smd.components.get")).toMatchObject({
        targets: [NODE],
        outcome: "ok",
        status: 200,
      });
      expect(records.every((r) => typeof r.requestId === "string" || r.outcome === "failed")).toBe(true);
    } finally {
      await s.close();
    }
  });

  it("refuses to start in read-write mode without CHAMICORE_MCP_ENABLE_WRITE=true, naming both", () => {
    const r = spawnSync(process.execPath, [BIN, "mcp"], {
      env: {
        PATH: process.env.PATH ?? "",
        CHAMICORE_ENDPOINT: control.url,
        CHAMICORE_MCP_TOKEN: control.adminToken,
        CHAMICORE_MCP_MODE: "read-write",
      },
      input: "",
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("CHAMICORE_MCP_MODE=read-write");
    expect(r.stderr).toContain("CHAMICORE_MCP_ENABLE_WRITE=true");
  });

  it("refuses to start without a token unless the CLI's context is allowed", () => {
    const r = spawnSync(process.execPath, [BIN, "mcp"], {
      env: { PATH: process.env.PATH ?? "", CHAMICORE_ENDPOINT: control.url },
      input: "",
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain("CHAMICORE_MCP_TOKEN");
    expect(r.stderr).toContain("CHAMICORE_MCP_ALLOW_CLI_CONFIG_TOKEN=true");
  });

  it("in read-write mode asks for confirm before a destructive call, and does it with confirm", async () => {
    const s = await session({
      CHAMICORE_MCP_TOKEN: control.adminToken,
      CHAMICORE_MCP_MODE: "read-write",
      CHAMICORE_MCP_ENABLE_WRITE: "true",
    });
    try {
      const names = (await s.client.listTools()).tools.map((t) => t.name);
      expect(names).toContain("bss.bootparams.delete");
      expect(names).toContain("power.transitions.create");

      const unconfirmed = await s.client.callTool({
        name: "bss.bootparams.delete",
        arguments: { id: "bp-node" },
      });
      expect(unconfirmed.isError).toBe(true);
      expect(textOf(unconfirmed)).toContain("would delete the boot parameters 'bp-node'");
      expect(textOf(unconfirmed)).toContain("confirm: true");
      expect((await call("GET", "/boot/v1/bootparams/bp-node")).status).toBe(200);

      const off = await s.client.callTool({
        name: "power.transitions.create",
        arguments: { body: { operation: "off", location: [{ xname: NODE }] } },
      });
      expect(off.isError).toBe(true);
      expect(textOf(off)).toContain(`would off 1 node(s): ${NODE}`);
      const transitions = await call("GET", "/power/v1/transitions");
      expect(transitions.json.metadata.total).toBe(0);

      // Arguments are checked by the route's own schema before anything is sent.
      const bad = await s.client.callTool({
        name: "smd.groups.members.add",
        arguments: { name: "compute", body: { ids: "x1000c0s0b0n0" } },
      });
      expect(bad.isError).toBe(true);
      expect(textOf(bad)).toContain("ids");
      // A refusal by the API's rules comes back as the API words it.
      const missing = await s.client.callTool({
        name: "smd.groups.members.add",
        arguments: { name: "compute", body: { ids: ["x9999c0s0b0n0"] } },
      });
      expect(missing.isError).toBe(true);
      expect(textOf(missing)).toMatch(/HTTP (404|422).*x9999c0s0b0n0/s);

      const done = await s.client.callTool({
        name: "bss.bootparams.delete",
        arguments: { id: "bp-node", confirm: true },
      });
      expect(done.isError, textOf(done)).toBeFalsy();
      expect((await call("GET", "/boot/v1/bootparams/bp-node")).status).toBe(404);

      const outcomes = s.records().map((r) => `${r.tool} ${r.outcome}`);
      expect(outcomes).toEqual([
        "bss.bootparams.delete not-confirmed",
        "power.transitions.create not-confirmed",
        // Refused by the route's schema before anything was sent, then by the API.
        "smd.groups.members.add refused",
        "smd.groups.members.add refused",
        "bss.bootparams.delete ok",
      ]);
    } finally {
      await s.close();
    }
  });

  it("waits for a power transition on a BMC, with progress notifications on the way", async () => {
    const s = await session({
      CHAMICORE_MCP_TOKEN: control.adminToken,
      CHAMICORE_MCP_MODE: "read-write",
      CHAMICORE_MCP_ENABLE_WRITE: "true",
    });
    try {
      const made = await s.client.callTool({
        name: "power.transitions.create",
        arguments: { body: { operation: "on", location: [{ xname: NODE }] } },
      });
      expect(made.isError, textOf(made)).toBeFalsy();
      const id = JSON.parse(textOf(made)).metadata.id as string;
      const progress: { progress: number; total?: number; message?: string }[] = [];
      const done = await s.client.callTool({ name: "power.transitions.wait", arguments: { id } }, undefined, {
        onprogress: (p) => progress.push(p),
      });
      expect(done.isError, textOf(done)).toBeFalsy();
      const spec = JSON.parse(textOf(done)).spec;
      expect(spec.state).toBe("completed");
      expect(spec.taskCounts).toMatchObject({ total: 1, succeeded: 1 });
      expect(bmc.powerState()).toBe("On");
      // While the BMC takes its time: the task is not final yet, and each notification says so.
      expect(progress.length, JSON.stringify(progress)).toBeGreaterThan(0);
      for (const p of progress) {
        expect(p).toMatchObject({ progress: 0, total: 1 });
        expect(p.message).toMatch(/^(new|in-progress): 0 of 1 task\(s\) final/);
      }
      expect(s.records().map((r) => `${r.tool} ${r.outcome}`)).toEqual([
        "power.transitions.create ok",
        "power.transitions.wait ok",
      ]);
    } finally {
      await s.close();
    }
  });

  it("cluster.health_summary names what is wrong first, and what the token may not read", async () => {
    const now = Date.now();
    const progress = await call("POST", "/boot/v1/progress", {
      body: {
        edge: "rack1",
        sentAt: new Date(now).toISOString(),
        events: [{ node: NODE, stage: "bootscript", at: new Date(now - 120_000).toISOString() }],
      },
    });
    expect(progress.status, progress.text).toBe(200);
    const report = await call("PUT", "/events/v1/edges/rack1", {
      body: {
        version: "test",
        position: 10,
        head: 40,
        lagEvents: 30,
        lagSeconds: 95,
        mode: "stream",
        lastContact: new Date(now).toISOString(),
        stalled: { since: new Date(now - 95_000).toISOString(), reason: "replica apply failed: disk full" },
        applyOk: false,
        kea: { state: "degraded", reservations: 10, problems: 2 },
        progress: { pending: 0, dropped: 0, sent: 1 },
      },
    });
    expect(report.status, report.text).toBe(204);

    const s = await session({ CHAMICORE_MCP_TOKEN: control.adminToken });
    try {
      const r = await s.client.callTool({ name: SUMMARY_TOOL, arguments: { stuckAfterSeconds: 60 } });
      expect(r.isError, textOf(r)).toBeFalsy();
      const summary = JSON.parse(textOf(r));
      expect(summary.problems).toEqual([
        expect.stringContaining("edge rack1: replica stalled since"),
        "edge rack1: its replica cannot take changes",
        "edge rack1: Kea sync degraded, 2 problem(s)",
        expect.stringMatching(
          /^1 node\(s\) stuck in boot for 60 s or more, longest first: x1000c0s0b0n0 \(bootscript, 1[2-9]\d s\)$/,
        ),
      ]);
      expect(summary.edges).toMatchObject([{ name: "rack1", stale: false, lagEvents: 30 }]);
      expect(summary.boot).toMatchObject({ stuck: 1, stages: { bootscript: 1 } });
    } finally {
      await s.close();
    }

    // A token narrowed to the inventory: the other sections say why they are missing.
    const narrow = await tokenFor(
      urlCall(control.url),
      control.admin.id,
      control.admin.secret,
      "read:components",
    );
    secrets.push(narrow);
    const n = await session({ CHAMICORE_MCP_TOKEN: narrow });
    try {
      const summary = JSON.parse(textOf(await n.client.callTool({ name: SUMMARY_TOOL, arguments: {} })));
      expect(summary.nodes).toMatchObject({ total: 1 });
      expect(summary.edges.unreadable).toMatch(/^HTTP 403/);
      expect(summary.power.unreadable).toMatch(/^HTTP 403/);
      expect(n.records()).toMatchObject([{ tool: SUMMARY_TOOL, outcome: "ok", capability: "read" }]);
    } finally {
      await n.close();
    }
  });

  it("gives a viewer's token the API's 403 on a write tool", async () => {
    const s = await session({
      CHAMICORE_MCP_TOKEN: viewerToken,
      CHAMICORE_MCP_MODE: "read-write",
      CHAMICORE_MCP_ENABLE_WRITE: "true",
    });
    try {
      const r = await s.client.callTool({
        name: "cloudinit.payloads.delete",
        arguments: { id: "pl-node", confirm: true },
      });
      expect(r.isError).toBe(true);
      expect(textOf(r)).toContain("HTTP 403");
      expect((await call("GET", "/cloud-init/payloads/pl-node")).status).toBe(200);
      expect(s.records()).toMatchObject([
        { tool: "cloudinit.payloads.delete", outcome: "refused", status: 403, subject: "watcher" },
      ]);
    } finally {
      await s.close();
    }
  });

  it("leaves no token and no secret in any session's log or audit records", () => {
    expect(logs.length).toBeGreaterThan(5);
    expect(logs.join("\n")).toContain('"mcp tool call"');
    for (const secret of secrets) for (const log of logs) expect(log).not.toContain(secret);
  });
});

/** An agent session over streamable HTTP at `/mcp`, with `token` on every request. */
async function httpSession(url: string, token: string) {
  const client = new Client({ name: "test-agent", version: "1.0.0" });
  const transport = new StreamableHTTPClientTransport(new URL(`${url}/mcp`), {
    requestInit: { headers: { Authorization: `Bearer ${token}` } },
  });
  await client.connect(transport);
  return { client, sessionId: () => transport.sessionId, close: () => client.close() };
}

/** The MCP records of the audit trail, oldest first. */
async function mcpRecords(t: Target, query = "") {
  const r = await t.call("GET", `/audit/v1/events?method=MCP&sort=time&limit=500${query}`);
  expect(r.status, r.text).toBe(200);
  return r.json.items.map((i: { spec: Record<string, unknown> }) => i.spec) as Record<string, unknown>[];
}

describe.each([
  [
    "node+postgres",
    (extra: Record<string, string>, logger?: Logger) => nodePostgresTarget(extra, { logger }),
  ],
  ["workerd+postgres", (extra: Record<string, string>) => workerTarget(extra, { artifacts: false })],
])("/mcp over streamable HTTP on %s", (name, start) => {
  /** A read-only server and a read-write one, each on its own database with the same inventory. */
  let ro: Target;
  let rw: Target;
  let viewer: string;
  const log: string[] = [];
  const used: string[] = [];
  const logger = createLogger({ write: (line) => log.push(line) });
  const POWER = { CHAMICORE_POWER_POLL_SECONDS: "0.02" };
  beforeAll(async () => {
    [ro, rw] = await Promise.all([
      start(POWER, logger),
      start({ ...POWER, CHAMICORE_MCP_MODE: "read-write", CHAMICORE_MCP_ENABLE_WRITE: "true" }, logger),
    ]);
    for (const t of [ro, rw]) {
      used.push(t.adminToken, t.env.CHAMICORE_BOOTSTRAP_CLIENT_SECRET, t.env.CHAMICORE_MASTER_KEY);
      const seeded = await seed(t.call, bmc.url);
      used.push(...seeded.secrets);
      viewer = seeded.viewerToken;
    }
  }, 180_000);
  afterAll(async () => {
    await Promise.all([ro?.stop(), rw?.stop()]);
  });

  it("read-only: names a session, lists the read tools, answers each read with the caller's token, records each call in the audit trail", async () => {
    const s = await httpSession(ro.url!, ro.adminToken);
    const sessionId = s.sessionId();
    try {
      expect(sessionId).toMatch(/^[0-9a-f-]{36}$/);
      const { tools } = await s.client.listTools();
      expect(tools.map((t) => t.name).sort()).toEqual(READ_TOOLS);
      await callEveryRead(s.client, tools);
      const r = await s.client.callTool({ name: "smd.components.get", arguments: { id: NODE } });
      expect(JSON.parse(textOf(r)).spec.role).toBe("Compute");
      // A write tool is not there to call, and nothing changes.
      const refused = await s.client.callTool({
        name: "bss.bootparams.delete",
        arguments: { id: "bp-node", confirm: true },
      });
      expect(refused.isError).toBe(true);
      expect((await ro.call("GET", "/boot/v1/bootparams/bp-node")).status).toBe(200);
      // The API's reference, for an agent that wants the whole of it.
      const openapi = await s.client.readResource({ uri: "chamicore://api/openapi.json" });
      const doc = JSON.parse((openapi.contents[0] as { text: string }).text);
      expect(Object.keys(doc.paths)).toContain("/hsm/v2/State/Components/{id}");
    } finally {
      await s.close();
    }
    const records = await mcpRecords(ro);
    // One record per tool call, none for the messages around them (initialize, tools/list).
    // The reads, the summary again, smd.components.get and the refused write.
    expect(records).toHaveLength(READ_TOOLS.length + 3);
    for (const rec of records)
      expect(rec).toMatchObject({
        method: "MCP",
        subject: ro.env.CHAMICORE_BOOTSTRAP_CLIENT_ID,
        detail: { transport: "http", mode: "read-only", sessionId },
      });
    expect(records.find((r) => r.route === "smd.components.get")).toMatchObject({
      resourceId: NODE,
      status: 200,
      action: "ok",
      detail: { capability: "read" },
    });
    expect(records.at(-1)).toMatchObject({
      route: "bss.bootparams.delete",
      action: "refused",
      status: 0,
      detail: { capability: null },
    });
    const posts = await ro.call("GET", "/audit/v1/events?route=/mcp");
    expect(posts.json.metadata.total).toBe(0);

    const anonymous = await ro.fetch("/mcp", {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("content-type")).toContain("application/problem+json");
    // A refused message is recorded like any refusal.
    const refusedPost = await ro.call("GET", "/audit/v1/events?route=/mcp");
    expect(refusedPost.json.items.map((i: { spec: { status: number } }) => i.spec.status)).toEqual([401]);
    // Stateless: no standalone event stream to hold open.
    const stream = await ro.fetch("/mcp", {
      headers: { Authorization: `Bearer ${ro.adminToken}`, Accept: "text/event-stream" },
    });
    expect(stream.status).toBe(405);
    expect(stream.headers.get("allow")).toBe("POST");
  });

  it("read-write: a destructive tool says what it would do and does nothing without confirm; a viewer gets the API's 403", async () => {
    const s = await httpSession(rw.url!, rw.adminToken);
    try {
      const names = (await s.client.listTools()).tools.map((t) => t.name);
      expect(names).toContain("power.transitions.abort");
      const unconfirmed = await s.client.callTool({
        name: "cloudinit.payloads.delete",
        arguments: { id: "pl-node" },
      });
      expect(unconfirmed.isError).toBe(true);
      expect(textOf(unconfirmed)).toContain("would delete the cloud-init payload 'pl-node'");
      expect((await rw.call("GET", "/cloud-init/payloads/pl-node")).status).toBe(200);
    } finally {
      await s.close();
    }
    const v = await httpSession(rw.url!, viewer);
    try {
      const r = await v.client.callTool({
        name: "cloudinit.payloads.delete",
        arguments: { id: "pl-node", confirm: true },
      });
      expect(r.isError).toBe(true);
      expect(textOf(r)).toContain("HTTP 403");
      expect((await rw.call("GET", "/cloud-init/payloads/pl-node")).status).toBe(200);
    } finally {
      await v.close();
    }
    expect(
      (await mcpRecords(rw, "&route=cloudinit.payloads.delete")).map(
        (r) => `${r.subject} ${r.action} ${r.status}`,
      ),
    ).toEqual([`${rw.env.CHAMICORE_BOOTSTRAP_CLIENT_ID} not-confirmed 0`, "watcher refused 403"]);
  });

  it("streams progress notifications while it waits on a power transition", async () => {
    const s = await httpSession(rw.url!, rw.adminToken);
    try {
      const made = await s.client.callTool({
        name: "power.transitions.create",
        arguments: { body: { operation: "on", location: [{ xname: NODE }] } },
      });
      expect(made.isError, textOf(made)).toBeFalsy();
      const id = JSON.parse(textOf(made)).metadata.id as string;
      const progress: { progress: number; total?: number; message?: string }[] = [];
      const done = await s.client.callTool(
        // The Worker runs no power agent (an edge does the work): there the wait ends unfinished.
        {
          name: "power.transitions.wait",
          arguments: { id, timeoutSeconds: name === "node+postgres" ? 60 : 3 },
        },
        undefined,
        { onprogress: (p) => progress.push(p) },
      );
      expect(progress.length, JSON.stringify(progress)).toBeGreaterThan(0);
      for (const p of progress) expect(p.message).toMatch(/^(new|in-progress): 0 of 1 task\(s\) final/);
      if (name === "node+postgres") {
        expect(done.isError, textOf(done)).toBeFalsy();
        expect(JSON.parse(textOf(done)).spec.state).toBe("completed");
      } else {
        expect(done.isError).toBe(true);
        expect(textOf(done)).toContain("Not final yet: new: 0 of 1 task(s) final");
      }
    } finally {
      await s.close();
    }
    const waits = await mcpRecords(rw, "&route=power.transitions.wait");
    expect(waits.map((r) => r.action)).toEqual([name === "node+postgres" ? "ok" : "unfinished"]);
  });

  it("leaves no token and no secret in the audit trail or the log", async () => {
    for (const t of [ro, rw]) {
      const all = await t.call("GET", "/audit/v1/events?limit=1000");
      expect(all.json.metadata.total).toBeGreaterThan(0);
      for (const secret of used) expect(all.text).not.toContain(secret);
    }
    if (name === "node+postgres") {
      expect(log.some((l) => l.includes('"mcp tool call"'))).toBe(true);
      for (const secret of used) expect(log.join("\n")).not.toContain(secret);
    }
  });
});
