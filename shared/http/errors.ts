/**
 * The one place where errors become HTTP answers: domain `ApiError`s, zod
 * validation failures, Hono's own HTTPExceptions (malformed JSON, body
 * limit) and anything unexpected all leave as RFC 9457 problem+json.
 */
import type { Context, ErrorHandler, NotFoundHandler } from "hono";
import { HTTPException } from "hono/http-exception";
import type { z } from "zod";
import { errorFields } from "../error-fields";
import { ApiError, type FieldError, PROBLEM_CONTENT_TYPE } from "../problem";

export function problemResponse(c: Context, err: ApiError): Response {
  const body = err.toProblem(c.req.path, c.get("requestId"));
  const headers: Record<string, string> = { "Content-Type": PROBLEM_CONTENT_TYPE, ...err.headers };
  // c.body (not new Response) keeps headers set earlier on the context, e.g. X-Request-Id.
  return c.body(JSON.stringify(body), err.status, headers);
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

/** The value at a zod issue path inside the request input. */
export function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v = input;
  for (const p of path) {
    if (v === null || typeof v !== "object") return undefined;
    v = (v as Record<PropertyKey, unknown>)[p];
  }
  return v;
}

/** Whether an issue says "this JSON value has the wrong type" rather than "this value breaks a rule". */
function isWrongType(issue: z.core.$ZodIssue, value: unknown): boolean {
  if (issue.code === "invalid_type") return true;
  // An enum or literal offered a value of another JSON type (a number for a string enum).
  if (issue.code === "invalid_value")
    return issue.values.length > 0 && typeof value !== typeof issue.values[0];
  // A union whose every branch refused the JSON type (e.g. an IP address given as a number).
  if (issue.code === "invalid_union")
    return (
      issue.errors.length > 0 && issue.errors.every((branch) => branch.some((i) => i.code === "invalid_type"))
    );
  return false;
}

/**
 * Zod issues → field errors and a status. Structural problems (wrong JSON
 * types, unknown fields) are 400; values that break a rule (enums, patterns,
 * ranges, a missing required field) are 422. `input` is the request value
 * the issues refer to: it tells a missing field from a mistyped one.
 */
export function zodToProblem(error: z.ZodError, target: string, prefix = "", input?: unknown): ApiError {
  let structural = false;
  const errors: FieldError[] = [];
  const repeated: string[] = [];
  for (const issue of error.issues) {
    const base = prefix + fieldPath(issue.path);
    if (issue.code === "unrecognized_keys") {
      structural = true;
      for (const k of issue.keys) errors.push({ field: base ? `${base}.${k}` : k, message: "unknown field" });
      continue;
    }
    const value = input === undefined ? undefined : valueAt(input, issue.path);
    // A query parameter given twice arrives as an array; none of ours takes more than one.
    if (target === "query" && Array.isArray(value) && issue.path.length === 1) {
      repeated.push(base);
      errors.push({ field: base, message: "may appear only once" });
      continue;
    }
    const missing =
      input === undefined
        ? /received undefined/.test(issue.message)
        : value === undefined && issue.path.length > 0;
    if (!missing && isWrongType(issue, value)) structural = true;
    errors.push({ field: base || target, message: missing ? "is required" : issue.message });
  }
  const where = target === "json" ? "request body" : target === "query" ? "query parameters" : `${target}`;
  if (repeated.length > 0 && repeated.length === errors.length)
    return new ApiError(
      "bad-request",
      `The query parameter${repeated.length > 1 ? "s" : ""} ${repeated.join(", ")} may appear only once`,
      { errors },
    );
  return structural
    ? new ApiError("bad-request", `The ${where} does not have the expected structure`, { errors })
    : new ApiError("validation", `The ${where} failed validation`, { errors });
}

/** defaultHook for OpenAPIHono: zod failures become problems. */
export const validationHook = (
  result: { success: true } | { success: false; error: z.ZodError; target: string; data?: unknown },
  c: Context,
) => {
  if (!result.success) return problemResponse(c, zodToProblem(result.error, result.target, "", result.data));
  return undefined;
};

/**
 * Tells an expected failure of a dependency (the database went away) from a
 * bug: the problem to answer with (a 503 to retry), or undefined for a 500.
 * Supplied by the application, which knows its drivers; this module imports none.
 */
export type FaultClassifier = (err: unknown) => ApiError | undefined;

export function createErrorHandler(
  log?: {
    error: (m: string, f?: Record<string, unknown>) => void;
    warn?: (m: string, f?: Record<string, unknown>) => void;
  },
  classify?: FaultClassifier,
): ErrorHandler {
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
    // Never the error's message as is: a failed query's carries its parameters (error-fields.ts).
    const fault = classify?.(err);
    if (fault) {
      (log?.warn ?? log?.error)?.("request failed: a dependency is unavailable", {
        ...errorFields(err),
        path: c.req.path,
        status: fault.status,
      });
      return problemResponse(c, fault);
    }
    log?.error("unhandled error", { ...errorFields(err, true), path: c.req.path });
    return problemResponse(c, new ApiError("internal", "An unexpected error occurred; see the server log"));
  };
}

export const notFoundHandler: NotFoundHandler = (c) =>
  problemResponse(c, new ApiError("not-found", `No route for ${c.req.method} ${c.req.path}`));
