/**
 * The catalog's tools made from the routes themselves: a tool's input is
 * the route's path parameters, query and JSON body schemas (the zod
 * schemas the route validates with and documents), its scopes the route's,
 * and a call is one HTTP request to that route with the caller's token.
 * Changing a route's schema changes its tool.
 */
import { type OpenAPIHono, z } from "@hono/zod-openapi";
import type { Env } from "hono";
import type { ToolEntry } from "./catalog";

/** Lists answer this many items unless the agent asks for more: an agent's context is not a terminal. */
export const DEFAULT_LIMIT = 50;

export interface RouteTool extends ToolEntry {
  description: string;
  /** The scopes any one of which the route accepts ("public" for none). */
  scopes: string[];
  /** Path parameters, query, `body` (when the route takes one), `ifMatch`, and `confirm` for destructive tools. */
  input: z.ZodObject;
  pathParams: string[];
  queryParams: string[];
  takesBody: boolean;
}

interface RouteDefinition {
  method: string;
  path: string;
  summary?: string;
  description?: string;
  "x-required-scope"?: string | string[];
  request?: {
    params?: unknown;
    query?: unknown;
    body?: { required?: boolean; content?: Record<string, { schema?: unknown }> };
  };
}

const shapeOf = (schema: unknown): Record<string, z.ZodType> =>
  schema instanceof z.ZodObject ? (schema.shape as Record<string, z.ZodType>) : {};

/** The registered route definitions of `app`, by `METHOD path`. */
function routesOf<E extends Env>(app: OpenAPIHono<E>): Map<string, RouteDefinition> {
  const out = new Map<string, RouteDefinition>();
  for (const d of app.openAPIRegistry.definitions)
    if (d.type === "route") out.set(`${d.route.method} ${d.route.path}`, d.route as RouteDefinition);
  return out;
}

/** The tools of `entries`, each from its route in `app`; a tool whose route is missing is a programming error. */
export function routeTools<E extends Env>(app: OpenAPIHono<E>, entries: readonly ToolEntry[]): RouteTool[] {
  const routes = routesOf(app);
  return entries.map((e) => {
    const route = routes.get(`${e.method} ${e.path}`);
    if (!route) throw new Error(`MCP tool ${e.name}: no route ${e.method.toUpperCase()} ${e.path}`);
    const params = shapeOf(route.request?.params);
    const query = shapeOf(route.request?.query);
    const content = route.request?.body?.content ?? {};
    const body = (content["application/json"] ?? content["application/merge-patch+json"])?.schema;
    const shape: Record<string, z.ZodType> = { ...query, ...params };
    if (body instanceof z.ZodType)
      shape.body = route.request?.body?.required === false ? body.optional() : body;
    if (e.method === "put" || e.method === "patch")
      shape.ifMatch = z
        .string()
        .optional()
        .describe(
          "The etag of your last read of it (If-Match): the API refuses a write without it (428) or after a change (412).",
        );
    if (e.destructive)
      shape.confirm = z
        .boolean()
        .optional()
        .describe("true to do it; without it the tool only says what it would do.");
    const scope = route["x-required-scope"] ?? "public";
    return {
      ...e,
      description: [route.summary, route.description].filter(Boolean).join(". "),
      scopes: Array.isArray(scope) ? scope : [scope],
      input: z.object(shape),
      pathParams: Object.keys(params),
      queryParams: Object.keys(query),
      takesBody: body instanceof z.ZodType,
    };
  });
}

/** A path parameter that is no id: `..` would climb out of the route once the URL is resolved. */
export function badPathParam(tool: RouteTool, args: Record<string, unknown>): string | undefined {
  return tool.pathParams.find((p) => args[p] === "." || args[p] === ".." || args[p] === "");
}

/** The request a call of `tool` with `args` makes, against the API at `base`. */
export function requestFor(
  tool: RouteTool,
  args: Record<string, unknown>,
  base: string,
  token?: string,
): Request {
  let path = tool.path;
  for (const p of tool.pathParams) path = path.replace(`{${p}}`, encodeURIComponent(String(args[p] ?? "")));
  // The base may carry a path of its own (a gateway's prefix): appended to, not replaced.
  const url = new URL(base.replace(/\/+$/, "") + path);
  for (const q of tool.queryParams) {
    const v = args[q];
    if (v !== undefined && v !== null) url.searchParams.set(q, String(v));
  }
  if (tool.queryParams.includes("limit") && !url.searchParams.has("limit"))
    url.searchParams.set("limit", String(DEFAULT_LIMIT));
  const headers: Record<string, string> = { Accept: "application/json" };
  if (token) headers.Authorization = `Bearer ${token}`;
  if (typeof args.ifMatch === "string") headers["If-Match"] = args.ifMatch;
  let body: string | undefined;
  if (tool.takesBody && args.body !== undefined) {
    headers["Content-Type"] = "application/json";
    body = JSON.stringify(args.body);
  }
  return new Request(url, { method: tool.method.toUpperCase(), headers, body });
}
