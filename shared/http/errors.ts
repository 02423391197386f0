/**
 * The one place where errors become HTTP answers: domain `ApiError`s, zod
 * validation failures, Hono's own HTTPExceptions (malformed JSON, body
 * limit) and anything unexpected all leave as RFC 9457 problem+json.
 */
import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { z } from "zod";
import { ApiError, type FieldError, PROBLEM_CONTENT_TYPE } from "../problem";

export function problemResponse(c: Context, err: ApiError): Response {
  const body = err.toProblem(c.req.path, c.get("requestId" as never) as string | undefined);
  const headers: Record<string, string> = { "Content-Type": PROBLEM_CONTENT_TYPE, ...err.headers };
  // c.body (not new Response) keeps headers set earlier on the context, e.g. X-Request-Id.
  return c.body(JSON.stringify(body), err.status as never, headers);
}

/** `interfaces[0].macAddress` from zod's path array. */
export function fieldPath(path: readonly PropertyKey[]): string {
  let out = "";
  for (const p of path) {
    if (typeof p === "number") out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out;
}

/**
 * Zod issues → field errors and a status. Structural problems (wrong JSON
 * types, unknown fields) are 400; values that break a rule (enums, patterns,
 * ranges, a missing required field) are 422.
 */
export function zodToProblem(error: z.ZodError, target: string, prefix = ""): ApiError {
  let structural = false;
  const errors: FieldError[] = [];
  for (const issue of error.issues) {
    const base = prefix + fieldPath(issue.path);
    if (issue.code === "unrecognized_keys") {
      structural = true;
      for (const k of issue.keys) errors.push({ field: base ? `${base}.${k}` : k, message: "unknown field" });
      continue;
    }
    if (issue.code === "invalid_type" && !/received undefined/.test(issue.message)) structural = true;
    const message = /received undefined/.test(issue.message) ? "is required" : issue.message;
    errors.push({ field: base || target, message });
  }
  const where = target === "json" ? "request body" : target === "query" ? "query parameters" : `${target}`;
  return structural
    ? new ApiError("bad-request", `The ${where} does not have the expected structure`, { errors })
    : new ApiError("validation", `The ${where} failed validation`, { errors });
}

/** defaultHook for OpenAPIHono: zod failures become problems. */
export const validationHook = (
  result: { success: true } | { success: false; error: z.ZodError; target: string },
  c: Context,
) => {
  if (!result.success) return problemResponse(c, zodToProblem(result.error, result.target));
  return undefined;
};

export function createErrorHandler(log?: {
  error: (m: string, f?: Record<string, unknown>) => void;
}): ErrorHandler {
  return (err, c) => {
    if (err instanceof ApiError) return problemResponse(c, err);
    if (err instanceof HTTPException) {
      const status = err.status;
      if (status === 413) return problemResponse(c, new ApiError("payload-too-large", err.message));
      if (status === 400 && /JSON/i.test(err.message))
        return problemResponse(c, new ApiError("malformed-json", "The request body is not valid JSON"));
      if (status === 401)
        return problemResponse(
          c,
          new ApiError("unauthorized", err.message || "Authentication required", {
            headers: { "WWW-Authenticate": "Bearer" },
          }),
        );
      if (status === 403) return problemResponse(c, new ApiError("forbidden", err.message || "Forbidden"));
      return problemResponse(c, new ApiError("bad-request", err.message || "Bad request", { status }));
    }
    log?.error("unhandled error", {
      err: err instanceof Error ? err.message : String(err),
      stack: err instanceof Error ? err.stack : undefined,
      path: c.req.path,
    });
    return problemResponse(c, new ApiError("internal", "An unexpected error occurred; see the server log"));
  };
}

export const notFoundHandler: NotFoundHandler = (c) =>
  problemResponse(c, new ApiError("not-found", `No route for ${c.req.method} ${c.req.path}`));
