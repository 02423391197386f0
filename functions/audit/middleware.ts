/**
 * The audit trail's one middleware: after the handler has answered, each
 * POST, PUT, PATCH and DELETE (the token endpoint among them), and the
 * return from an identity provider's login, leaves one
 * record of who asked what and how it ended, refusals (401, 403, 4xx)
 * included. It reads only the verified principal, the route template, the
 * path parameters, the answer's status, the request id, the client address
 * and, for creates and tokens, the answer's id or token claims: never a
 * request body, a query string or another header, so no secret a caller
 * sends can reach the trail.
 *
 * MCP messages are the exception: each tool call an agent makes writes its
 * own record (method MCP, the tool as route), not the POST that carried it.
 *
 * The record is written before the answer leaves, inside the request's
 * database connection (a Worker closes it after the answer). A failed write
 * is logged as a warning and the answer goes out unchanged.
 */
import type { Context, MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import { decodeJwt } from "jose";
import { errorFields } from "../../shared/error-fields";
import { clientAddress } from "../../shared/http/client-address";
import { storable } from "../../shared/http/well-formed";
import { SESSION_CALLBACK_PATH } from "../auth/oidc-login";
import { TOKEN_PATH } from "../auth/token-routes";
import type { AppEnv } from "../env";
import type { McpCallRecord } from "../mcp/calls";
import { MCP_PATH } from "../mcp/settings";
import type { AuditEntry } from "./store";

const AUDITED = new Set(["POST", "PUT", "PATCH", "DELETE"]);

/** Column widths of audit.events (control/db/schema.ts). */
const WIDTH = { text: 255, address: 64, method: 16, action: 64 } as const;

/** At most `max` UTF-16 units, storable, without splitting a surrogate pair. */
export function clip(s: string | undefined | null, max: number = WIDTH.text): string | null {
  if (s === undefined || s === null) return null;
  let out = s;
  if (s.length > max) {
    out = s.slice(0, max);
    // Cut between the halves of a pair: drop the first half too.
    if (/[\uD800-\uDBFF]$/.test(out)) out = out.slice(0, -1);
  }
  // Postgres text cannot hold NUL, and a lone surrogate is no character: both become U+FFFD.
  return storable(out);
}

type C = Context<AppEnv>;

/** The route template of the handler that answered ("unmatched" for a 404 of no route). */
const routeOf = (c: C) =>
  // /mcp is the one route that takes any method (it answers 405 itself): ALL is otherwise middleware.
  matchedRoutes(c).findLast((r) => r.method !== "ALL" || r.path === MCP_PATH)?.path ?? "unmatched";

/** The caller's canonical address through trusted proxies; null when the runtime cannot tell. */
function addressOf(c: C): string | null {
  const s = c.var.deps.serving;
  try {
    return clientAddress(s.peerAddress(c), c.req.header("X-Forwarded-For"), s.trustedProxies) ?? null;
  } catch {
    // A request without a socket (app.request in a test) has no peer.
    return null;
  }
}

/** The answer's JSON, or undefined when it is none (read from a copy: the answer still goes out whole). */
async function answerJson(c: C): Promise<Record<string, unknown> | undefined> {
  if (!/\bjson\b/i.test(c.res.headers.get("Content-Type") ?? "")) return undefined;
  try {
    const doc = await c.res.clone().json();
    return typeof doc === "object" && doc !== null ? (doc as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * The path parameters in the template's order, joined by "/"; for a
 * request without any that created something, the new resource's id from
 * Location or the answer's `metadata.id`.
 */
async function resourceOf(c: C, route: string): Promise<string | null> {
  const names = [...route.matchAll(/:([A-Za-z0-9_]+)/g)].map((m) => m[1]!);
  if (names.length > 0) {
    const params = c.req.param() as Record<string, string | undefined>;
    const values = names.map((n) => params[n]).filter((v): v is string => v !== undefined);
    return values.length ? values.join("/") : null;
  }
  if (c.res.status < 200 || c.res.status >= 300) return null;
  const location = c.res.headers.get("Location");
  if (location) {
    const last = location.split("?")[0]!.split("/").pop() ?? "";
    try {
      return decodeURIComponent(last) || null;
    } catch {
      return last || null;
    }
  }
  const id = ((await answerJson(c))?.metadata as { id?: unknown } | undefined)?.id;
  return typeof id === "string" ? id : null;
}

/** Who got a token and what the endpoint decided, from the answer (the token is read, never kept). */
async function tokenOutcome(c: C): Promise<{ sub?: string; roles: string[]; action: string }> {
  const doc = await answerJson(c);
  if (c.res.status === 200 && typeof doc?.access_token === "string") {
    try {
      const claims = decodeJwt(doc.access_token);
      const roles = Array.isArray(claims.roles) ? claims.roles.map(String) : [];
      return { sub: claims.sub, roles, action: "token issued" };
    } catch {
      return { roles: [], action: "token issued" };
    }
  }
  // The OAuth error code (RFC 6749 §5.2); a throttled request answers a problem without one.
  const error =
    typeof doc?.error === "string" ? `: ${doc.error}` : c.res.status === 429 ? ": too many attempts" : "";
  return { roles: [], action: `token refused${error}` };
}

async function entryOf(c: C): Promise<AuditEntry> {
  const route = routeOf(c);
  const base = {
    clientAddress: clip(addressOf(c), WIDTH.address),
    method: clip(c.req.method, WIDTH.method)!,
    route: clip(route)!,
    status: c.res.status,
    requestId: clip(c.get("requestId")),
  };
  if (route === TOKEN_PATH) {
    const t = await tokenOutcome(c);
    // The client id as tried (token-routes.ts sets it before checking the secret), else the token's.
    const subject = clip(c.get("auditSubject") ?? t.sub);
    return { ...base, subject, roles: t.roles, resourceId: null, action: clip(t.action, WIDTH.action) };
  }
  const principal = c.get("principal");
  return {
    ...base,
    // A refused login names the client id it tried.
    subject: clip(principal?.sub ?? c.get("auditSubject")),
    roles: principal?.roles ?? [],
    resourceId: clip(await resourceOf(c, route)),
    action: clip(c.get("auditAction"), WIDTH.action),
  };
}

/**
 * The record of one MCP tool call made over `/mcp` (`c` is that request):
 * method MCP, the tool as route, the ids it named, the API's status (0 when
 * none answered), its outcome as action and the rest as detail.
 */
export function toolCallEntry(c: C, r: McpCallRecord): AuditEntry {
  const principal = c.get("principal");
  return {
    subject: clip(r.subject ?? principal?.sub),
    roles: principal?.roles ?? [],
    clientAddress: clip(addressOf(c), WIDTH.address),
    method: "MCP",
    route: clip(r.tool)!,
    resourceId: clip(r.targets.join("/") || null),
    status: r.status ?? 0,
    requestId: clip(r.requestId),
    action: r.outcome,
    detail: {
      transport: r.transport,
      mode: r.mode,
      capability: r.capability,
      sessionId: r.sessionId ?? null,
      ms: r.ms,
    },
  };
}

/** Records every mutating request once it has been answered (see the module comment). */
export const auditTrail: MiddlewareHandler<AppEnv> = async (c, next) => {
  // An identity provider's login ends in a GET (its redirect back), which starts a session.
  if (!AUDITED.has(c.req.method) && c.req.path !== SESSION_CALLBACK_PATH) return next();
  await next();
  // An MCP message that was taken records each of its tool calls itself (functions/mcp/server.ts);
  // a refused one (no token, not MCP) is recorded here like any refusal.
  if (c.req.path === MCP_PATH && c.res.status < 400) return;
  const store = c.get("stores")?.audit;
  // Routes without a database connection (none of them writes) leave no record.
  if (!store) return;
  try {
    await store.record(await entryOf(c));
  } catch (e) {
    // Never the values: errorFields keeps the database's code and message, not the parameters.
    c.var.deps.logger.warn("audit record not written", {
      method: c.req.method,
      route: routeOf(c),
      status: c.res.status,
      requestId: c.get("requestId"),
      ...errorFields(e),
    });
  }
};
