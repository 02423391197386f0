/**
 * Cross-cutting HTTP behaviour shared by the control plane and the edge:
 * media types, API-Version, Cache-Control, body limits, access logs and metrics.
 */
import { SpanStatusCode } from "@opentelemetry/api";
import type { MiddlewareHandler } from "hono";
import { matchedRoutes } from "hono/route";
import type { Logger } from "../log";
import type { HttpMetrics } from "../metrics";
import { ApiError } from "../problem";
import { fromHeaders, inSpan, SpanKind } from "../tracing";
import { API_VERSION } from "../version";
import { jsonTextErrors, queryTextErrors, unstorable } from "./well-formed";

const JSON_TYPES = /^application\/(json|merge-patch\+json|[a-z0-9.+-]*\+json)\s*(;|$)/i;

const FORM_TYPE = /^application\/x-www-form-urlencoded\s*(;|$)/i;

/**
 * Whether a request without a Content-Type carries a body. Content-Length
 * says so; otherwise (chunked, HTTP/1.1 with neither header, where RFC 9112
 * §6.3 means no body though @hono/node-server still hands on an empty
 * stream, or HTTP/2) the stream is peeked through a clone, so the handler
 * can still read it: an empty chunked body is no body either.
 */
async function carriesBody(req: Request): Promise<boolean> {
  const length = req.headers.get("Content-Length");
  if (length !== null) return length.trim() !== "0";
  const body = req.bodyUsed ? null : req.clone().body;
  if (!body) return false;
  const reader = body.getReader();
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return false;
      if (value.byteLength > 0) return true;
    }
  } finally {
    await reader.cancel().catch(() => undefined);
  }
}

/**
 * POST, PUT and PATCH that carry a body must say it is JSON (415 otherwise);
 * `formPaths` also take a form (the OAuth token endpoint). A request without
 * a body (no Content-Length nor Transfer-Encoding, or Content-Length 0) needs
 * no Content-Type: some actions take no input.
 */
export const requireJson =
  (formPaths: readonly string[] = [], streamed?: RegExp): MiddlewareHandler =>
  async (c, next) => {
    const m = c.req.method;
    if ((m === "POST" || m === "PUT" || m === "PATCH") && !streamed?.test(c.req.path)) {
      const ct = c.req.header("Content-Type");
      const ok =
        ct !== undefined && (JSON_TYPES.test(ct) || (FORM_TYPE.test(ct) && formPaths.includes(c.req.path)));
      if (!ok && (ct !== undefined ? c.req.header("Content-Length") !== "0" : await carriesBody(c.req.raw))) {
        throw new ApiError(
          "unsupported-media-type",
          `Content-Type must be application/json${m === "PATCH" ? " or application/merge-patch+json" : ""}; got ${ct ?? "none"}`,
        );
      }
    }
    await next();
  };

/**
 * Refuses input that no store can hold (see ./well-formed): in path
 * parameters and query parameters (400), in form fields, and anywhere in a
 * JSON body, values and keys alike (422; nesting too deep: 400), each naming
 * the field. Runs as
 * route middleware, after the token check, so that an anonymous caller never
 * makes the server read a body.
 */
export const wellFormedInput: MiddlewareHandler = async (c, next) => {
  // NUL reaches a path or query only percent-encoded; a lone surrogate cannot reach
  // them at all (invalid UTF-8 decodes to U+FFFD). So the common case costs one search.
  const url = c.req.url;
  if (url.includes("%00")) {
    const errors = Object.entries(c.req.param() as Record<string, string>)
      .filter(([, v]) => unstorable(v))
      .map(([field, v]) => ({ field, message: unstorable(v)! }));
    if (errors.length)
      throw new ApiError("bad-request", "A path parameter holds text that cannot be stored", { errors });
    const q = url.indexOf("?");
    const query = queryTextErrors(new URLSearchParams(q < 0 ? "" : url.slice(q + 1)));
    if (query.length)
      throw new ApiError("bad-request", "A query parameter holds text that cannot be stored", {
        errors: query,
      });
  }
  const m = c.req.method;
  const ct = c.req.header("Content-Type");
  if ((m === "POST" || m === "PUT" || m === "PATCH") && ct !== undefined && FORM_TYPE.test(ct)) {
    const errors = queryTextErrors(new URLSearchParams(await c.req.text()));
    if (errors.length)
      throw new ApiError("validation", "The request body holds text that cannot be stored", { errors });
  }
  if ((m === "POST" || m === "PUT" || m === "PATCH") && ct !== undefined && JSON_TYPES.test(ct)) {
    // Parsed through hono's body cache: the validator takes the same parsed document.
    let doc: unknown;
    try {
      doc = await c.req.json();
    } catch {
      // Empty or malformed: left to the validator, which answers it in the usual way.
      return next();
    }
    const { text: bad, depth } = jsonTextErrors(doc);
    if (depth.length)
      throw new ApiError("bad-request", "The request body nests too deeply", { errors: depth });
    if (bad.length)
      throw new ApiError("validation", "The request body holds text that cannot be stored", { errors: bad });
  }
  await next();
};

/**
 * API-Version on every answer, and Cache-Control unless the handler sets its
 * own: reads revalidate (ETags make that cheap), writes are never cached.
 * Set before the handler runs, as defaults the answer is built with: adding
 * them afterwards makes @hono/node-server turn every answer's headers into a
 * Headers object, a cost paid on each boot script of a storm.
 */
export const defaultHeaders: MiddlewareHandler = async (c, next) => {
  const m = c.req.method;
  c.header("API-Version", API_VERSION);
  c.header("Cache-Control", m === "GET" || m === "HEAD" ? "no-cache" : "no-store");
  await next();
};

export const DEFAULT_BODY_LIMIT = 1024 * 1024;

const DRAIN_CAP = 64 * 1024 * 1024;

/**
 * Refuses a body over `maxSize` with a 413, after reading and dropping what
 * is left of it (up to DRAIN_CAP bytes). Many HTTP clients (undici's fetch
 * among them) report "other side closed" instead of the 413 when the server
 * answers and closes while they are still sending, and workerd resets a
 * connection whose unread upload is over its small grace. A body without a
 * Content-Length (chunked) is counted as it is read, and drained from the
 * same reader when it goes over: hono's own limit left it locked and unread.
 */
function limitBody(maxSize: number): MiddlewareHandler {
  return async (c, next) => {
    const req = c.req.raw;
    if (!req.body) return next();
    const length = req.headers.get("content-length");
    if (length !== null && !req.headers.has("transfer-encoding")) {
      if (Number.parseInt(length, 10) > maxSize) return tooLarge(req.body.getReader(), 0);
      return next();
    }
    const reader = req.body.getReader();
    const chunks: Uint8Array[] = [];
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
      if (size > maxSize) return tooLarge(reader, size);
      chunks.push(value);
    }
    const body = new Uint8Array(size);
    let at = 0;
    for (const chunk of chunks) {
      body.set(chunk, at);
      at += chunk.byteLength;
    }
    c.req.raw = new Request(req, { body });
    return next();
  };
}

/** What tooLarge needs of a body's reader (Node's and the web's types differ in name only). */
interface BodyReader {
  read(): Promise<{ done: boolean; value?: Uint8Array }>;
  cancel(): Promise<void>;
}

/**
 * Reads and drops what is left of a body, up to DRAIN_CAP bytes in all
 * (`read` already); true when it ended there, false when it was cut off
 * (too long, or the client went away).
 */
async function drain(reader: BodyReader, read: number): Promise<boolean> {
  try {
    for (let n = read; n <= DRAIN_CAP; ) {
      const { done, value } = await reader.read();
      if (done) return true;
      n += value?.byteLength ?? 0;
    }
    await reader.cancel();
  } catch {
    // The client went away: nothing left to drain.
  }
  return false;
}

async function tooLarge(reader: BodyReader, read: number): Promise<never> {
  await drain(reader, read);
  throw new ApiError("payload-too-large", "The request body is larger than this endpoint accepts");
}

/**
 * Reads what a handler left of the request body before the answer goes out.
 * A route that refuses early (401, 404, 415, 422 before reading) leaves the
 * body on the wire; @hono/node-server then drains it for half a second and
 * destroys the socket, with no `Connection: close` to tell the client, which
 * may already have the connection back in its pool: its next request there
 * fails with "other side closed" (a 404 to an 11 MB part did this under
 * load). Past DRAIN_CAP the connection is closed, and said so.
 */
export const finishBody: MiddlewareHandler = async (c, next) => {
  const m = c.req.method;
  if (m === "GET" || m === "HEAD") return next();
  await next();
  const req = c.req.raw;
  if (req.bodyUsed || !req.body || req.body.locked) return;
  if (!(await drain(req.body.getReader(), 0))) c.header("Connection", "close");
};

/** Body limit by route: a larger one for the listed paths (bulk import). */
export function bodyLimits(
  defaultMax: number,
  larger: Record<string, number>,
  streamed?: RegExp,
): MiddlewareHandler {
  const def = limitBody(defaultMax);
  const by = Object.fromEntries(Object.entries(larger).map(([p, max]) => [p, limitBody(max)] as const));
  return (c, next) => {
    // GET and HEAD carry no body. Reading it would make @hono/node-server build a full
    // Request (its body stream) for every boot script, a tenth of the edge's time in a storm.
    const m = c.req.method;
    if (m === "GET" || m === "HEAD" || streamed?.test(c.req.path)) return next();
    return (by[c.req.path] ?? def)(c, next);
  };
}

/**
 * A server span per request, continuing the caller's `traceparent`: named
 * by method and route template, with the status and the subject (never a
 * path's ids, a query string or a header). A no-op without a tracing SDK.
 */
export const traced: MiddlewareHandler = (c, next) =>
  inSpan(
    c.req.method,
    { "http.request.method": c.req.method },
    async (span) => {
      await next();
      const route = matchedRoutes(c).findLast((r) => r.method !== "ALL")?.path ?? "unmatched";
      span.updateName(`${c.req.method} ${route}`);
      span.setAttributes({ "http.route": route, "http.response.status_code": c.res.status });
      const sub = (c.var as { principal?: { sub?: string } }).principal?.sub;
      if (sub) span.setAttribute("enduser.id", sub);
      if (c.res.status >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
    },
    { parent: fromHeaders((name) => c.req.header(name)), kind: SpanKind.SERVER },
  );

/**
 * Access log line and request metrics, labelled by route template (not raw
 * path). `quiet` logs successful answers at debug level: an edge node in a
 * boot storm answers thousands per second, and its metrics already count them.
 */
export function observe(log: Logger, metrics: HttpMetrics, quiet = false): MiddlewareHandler {
  return async (c, next) => {
    const start = performance.now();
    await next();
    const seconds = (performance.now() - start) / 1000;
    // The handler that answered, not a path-scoped middleware such as "/hsm/*".
    const handler = matchedRoutes(c).findLast((r) => r.method !== "ALL");
    const route = handler?.path ?? "unmatched";
    const labels = { method: c.req.method, route, status: String(c.res.status) };
    metrics.requests.inc(labels);
    metrics.duration.observe(seconds, labels);
    (quiet && c.res.status < 400 ? log.debug : log.info)("request", {
      ...labels,
      path: c.req.path,
      ms: Math.round(seconds * 1000 * 100) / 100,
      requestId: c.get("requestId"),
    });
  };
}
