/**
 * The MCP tools are the API's routes: every catalog entry has its route,
 * its input is that route's parameters, query and body (so a changed route
 * schema changes the tool), every route family has a tool, and the mode
 * needs both variables before a write tool exists.
 */
import { createRoute, OpenAPIHono, z } from "@hono/zod-openapi";
import { describe, expect, it } from "vitest";
import { registerControlRoutes } from "../../control/app";
import type { AppEnv } from "../../functions/env";
import { toolsFor } from "../../functions/mcp/calls";
import { TOOLS } from "../../functions/mcp/catalog";
import { mcpModeOf } from "../../functions/mcp/settings";
import { badPathParam, DEFAULT_LIMIT, requestFor, routeTools } from "../../functions/mcp/tools";
import { WAITS } from "../../functions/mcp/waits";

const control = registerControlRoutes(new OpenAPIHono<AppEnv>());
const tools = routeTools(control, TOOLS);
const byName = new Map(tools.map((t) => [t.name, t]));

describe("MCP tools from routes", () => {
  it("finds a route for every tool, and takes its scopes from it", () => {
    expect(tools).toHaveLength(TOOLS.length);
    expect(byName.get("smd.components.list")!.scopes).toEqual(["read:components"]);
    expect(byName.get("power.transitions.create")!.scopes).toEqual(["write:power"]);
    expect(byName.get("boot.script.preview")!.scopes).toEqual(["public"]);
  });

  it("takes each tool's input from its route's parameters, query and body", () => {
    for (const t of tools) {
      const route = control.openAPIRegistry.definitions.find(
        (d) => d.type === "route" && d.route.method === t.method && d.route.path === t.path,
      );
      if (route?.type !== "route") throw new Error(t.name);
      const req = route.route.request;
      const expected = [
        ...Object.keys((req?.query as z.ZodObject | undefined)?.shape ?? {}),
        ...Object.keys((req?.params as z.ZodObject | undefined)?.shape ?? {}),
        ...(t.takesBody ? ["body"] : []),
        ...(t.method === "put" || t.method === "patch" ? ["ifMatch"] : []),
        ...(t.destructive ? ["confirm"] : []),
      ];
      expect(Object.keys(t.input.shape).sort(), t.name).toEqual(expected.sort());
    }
    // The body is the route's own schema object: the same validation, the same documentation.
    const create = control.openAPIRegistry.definitions.find(
      (d) => d.type === "route" && d.route.path === "/power/v1/transitions" && d.route.method === "post",
    );
    if (create?.type !== "route") throw new Error("no route");
    const media = create.route.request?.body?.content["application/json"];
    expect(byName.get("power.transitions.create")!.input.shape.body).toBe(
      media && "schema" in media ? media.schema : undefined,
    );
  });

  it("changes with the route's schema", () => {
    const entry = [{ name: "x.list", method: "get", path: "/x", capability: "read" }] as const;
    const appWith = (query: z.ZodObject) => {
      const app = new OpenAPIHono();
      app.openapi(
        createRoute({
          method: "get",
          path: "/x",
          request: { query },
          responses: { 200: { description: "ok" } },
        }),
        (c) => c.json({}),
      );
      return app;
    };
    const before = routeTools(appWith(z.object({ a: z.string() })), entry)[0]!;
    const after = routeTools(appWith(z.object({ a: z.string(), b: z.enum(["on", "off"]) })), entry)[0]!;
    expect(Object.keys(before.input.shape)).toEqual(["a"]);
    expect(Object.keys(after.input.shape)).toEqual(["a", "b"]);
    expect(after.input.safeParse({ a: "1", b: "sideways" }).success).toBe(false);
  });

  it("has a tool for every route family an agent needs", () => {
    for (const family of [
      "smd.components.",
      "smd.groups.",
      "bss.bootparams.",
      "cloudinit.payloads.",
      "power.status.",
      "power.transitions.",
      "discovery.targets.",
      "discovery.scans.",
      "discovery.drivers.",
      "boot.script.preview",
      "cloudinit.preview.",
      "events.changes",
      "edges.list",
      "power.transitions.wait",
      "discovery.scans.wait",
    ])
      expect(
        [...TOOLS, ...WAITS].some((t) => t.name.startsWith(family)),
        family,
      ).toBe(true);
    // Every delete and every power change asks for confirm.
    for (const t of TOOLS.filter((t) => t.method === "delete" || t.name === "power.transitions.create"))
      expect(t.destructive, t.name).toBeDefined();
  });

  it("builds the route's request: path parameters encoded, a bounded page, If-Match", () => {
    const get = requestFor(byName.get("smd.groups.get")!, { name: "a b/c" }, "http://api");
    expect(get.url).toBe("http://api/hsm/v2/groups/a%20b%2Fc");
    // A gateway's prefix on the endpoint is kept.
    const behind = requestFor(byName.get("smd.groups.get")!, { name: "g" }, "https://gw.example/chamicore/");
    expect(behind.url).toBe("https://gw.example/chamicore/hsm/v2/groups/g");
    expect(badPathParam(byName.get("smd.groups.get")!, { name: ".." })).toBe("name");
    expect(badPathParam(byName.get("smd.groups.get")!, { name: "..x" })).toBeUndefined();
    const list = requestFor(byName.get("smd.components.list")!, { type: "Node", bogus: "x" }, "http://api");
    expect(new URL(list.url).searchParams.toString()).toBe(`type=Node&limit=${DEFAULT_LIMIT}`);
    const put = requestFor(
      byName.get("bss.bootparams.replace")!,
      { id: "bp1", ifMatch: "abc", body: { kernelUri: "http://k" } },
      "http://api",
    );
    expect(put.method).toBe("PUT");
    expect(put.headers.get("If-Match")).toBe("abc");
  });
});

describe("MCP mode", () => {
  it("is read-only unless both variables say read-write", () => {
    expect(mcpModeOf({})).toBe("read-only");
    expect(mcpModeOf({ CHAMICORE_MCP_MODE: "read-write", CHAMICORE_MCP_ENABLE_WRITE: "true" })).toBe(
      "read-write",
    );
    expect(() => mcpModeOf({ CHAMICORE_MCP_MODE: "read-write" })).toThrow(/CHAMICORE_MCP_ENABLE_WRITE=true/);
    expect(() => mcpModeOf({ CHAMICORE_MCP_MODE: "yolo" })).toThrow(/neither read-only nor read-write/);
    expect(toolsFor(tools, "read-only").every((t) => t.capability === "read")).toBe(true);
    expect(toolsFor(tools, "read-write")).toHaveLength(tools.length);
  });
});
