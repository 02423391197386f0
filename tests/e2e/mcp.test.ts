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
import { WAITS } from "../../functions/mcp/waits";
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

const NODE = "x1000c0s0b0n0";
const MAC = "02:00:00:00:00:01";

beforeAll(async () => {
  [control, bmc] = await Promise.all([
    startTestControl({ CHAMICORE_POWER_POLL_SECONDS: "0.02" }),
    startBmc({ initialPowerState: "Off", powerDelayMs: 1500 }),
  ]);
  secrets.push(control.admin.secret, control.adminToken);
  const raw = urlCall(control.url);
  call = (method, path, init = {}) => raw(method, path, { token: control.adminToken, ...init });
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
  ];
  seeded.push(
    await call("POST", "/auth/v1/credentials", {
      body: { id: "bmc-cred", name: "BMCs", type: "redfish", username: "admin", secret: "password" },
    }),
    await call("POST", "/power/v1/bmcs", {
      body: { id: "x1000c0s0b0", address: bmc.url, credentialId: "bmc-cred" },
    }),
  );
  for (const r of seeded) expect(r.status, r.text).toBe(201);
  const sa = await call("POST", "/auth/v1/service-accounts", { body: { id: "watcher", roles: ["viewer"] } });
  expect(sa.status, sa.text).toBe(201);
  secrets.push(sa.json.spec.clientSecret);
  viewerToken = await tokenFor(urlCall(control.url), "watcher", sa.json.spec.clientSecret);
  secrets.push(viewerToken);
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
  transport.stderr?.on("data", (d) => {
    stderr += d;
  });
  const client = new Client({ name: "test-agent", version: "1.0.0" });
  await client.connect(transport);
  return {
    client,
    stderr: () => stderr,
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

describe("chamicore mcp (stdio)", () => {
  it("in read-only mode lists every read tool and no write tool, and answers each read from the API", async () => {
    const s = await session({ CHAMICORE_MCP_TOKEN: control.adminToken });
    try {
      const { tools } = await s.client.listTools();
      const names = tools.map((t) => t.name).sort();
      expect(names).toEqual(
        [...TOOLS.filter((t) => t.capability === "read"), ...WAITS].map((t) => t.name).sort(),
      );
      for (const t of tools) expect(t.annotations?.readOnlyHint).toBe(true);
      for (const t of tools) {
        const r = await s.client.callTool({ name: t.name, arguments: READ_ARGS[t.name] ?? {} });
        if (NOT_FOUND.has(t.name)) {
          expect(r.isError, t.name).toBe(true);
          expect(textOf(r), t.name).toContain("HTTP 404");
        } else expect(r.isError, `${t.name}: ${textOf(r)}`).toBeFalsy();
      }
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

      const records = s.records();
      expect(records).toHaveLength(tools.length + 3);
      for (const r of records) {
        expect(r.transport).toBe("stdio");
        expect(r.mode).toBe("read-only");
        expect(r.subject).toBe(control.admin.id);
      }
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
      // The whole log of the session holds no token and no secret.
      for (const secret of secrets) expect(s.stderr()).not.toContain(secret);
    } finally {
      await s.close();
    }
  });
});

/** An agent session over streamable HTTP at `/mcp`, with `token` on every request. */
async function httpSession(url: string, token: string) {
  const client = new Client({ name: "test-agent", version: "1.0.0" });
  await client.connect(
    new StreamableHTTPClientTransport(new URL(`${url}/mcp`), {
      requestInit: { headers: { Authorization: `Bearer ${token}` } },
    }),
  );
  return client;
}

describe.each([
  ["node+postgres", () => nodePostgresTarget()],
  ["workerd+postgres", () => workerTarget({}, { artifacts: false })],
])("/mcp over streamable HTTP on %s", (_name, start) => {
  let target: Target;
  beforeAll(async () => {
    target = await start();
    const r = await target.call("POST", "/hsm/v2/import", {
      body: { components: [{ id: NODE, type: "Node", state: "Ready", role: "Compute", nid: 1 }] },
    });
    expect(r.status, r.text).toBe(201);
  }, 180_000);
  afterAll(async () => {
    await target?.stop();
  });

  it("lists the read tools and answers them with the caller's token; refuses a request without one", async () => {
    const client = await httpSession(target.url!, target.adminToken);
    try {
      const names = (await client.listTools()).tools.map((t) => t.name);
      expect(names).toContain("smd.components.list");
      expect(names).not.toContain("bss.bootparams.delete");
      const r = await client.callTool({ name: "smd.components.get", arguments: { id: NODE } });
      expect(r.isError, textOf(r)).toBeFalsy();
      expect(JSON.parse(textOf(r)).spec.role).toBe("Compute");
    } finally {
      await client.close();
    }
    const anonymous = await fetch(`${target.url}/mcp`, {
      method: "POST",
      headers: { "Content-Type": "application/json", Accept: "application/json, text/event-stream" },
      body: JSON.stringify({ jsonrpc: "2.0", id: 1, method: "tools/list" }),
    });
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("content-type")).toContain("application/problem+json");
    // Stateless: no standalone event stream to hold open.
    const stream = await fetch(`${target.url}/mcp`, {
      headers: { Authorization: `Bearer ${target.adminToken}`, Accept: "text/event-stream" },
    });
    expect(stream.status).toBe(405);
    expect(stream.headers.get("allow")).toBe("POST");
  });
});
