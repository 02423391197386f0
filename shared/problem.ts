/**
 * RFC 9457 problem details: the one error type of Chamicore.
 *
 * Services and stores throw `ApiError`; a single `onError` (shared/http/errors.ts)
 * turns it into `application/problem+json`. Nothing else writes error bodies.
 */
import { z } from "@hono/zod-openapi";
import type { ContentfulStatusCode } from "hono/utils/http-status";

export const PROBLEM_CONTENT_TYPE = "application/problem+json";
/** Base of the `type` URIs; they name the problem kind, they are not fetched. */
export const PROBLEM_TYPE_BASE = "https://chamicore.dev/problems/";

export const FieldErrorSchema = z
  .object({
    field: z.string().openapi({ example: "type" }),
    message: z.string().openapi({ example: "must be one of Node, NodeBMC, …" }),
  })
  .openapi("FieldError");

export const ProblemSchema = z
  .object({
    type: z.string().openapi({ example: `${PROBLEM_TYPE_BASE}validation` }),
    title: z.string().openapi({ example: "Validation failed" }),
    status: z.number().int().openapi({ example: 422 }),
    detail: z.string().optional(),
    instance: z.string().optional().openapi({ example: "/hsm/v2/State/Components" }),
    requestId: z.string().optional(),
    errors: z.array(FieldErrorSchema).optional(),
  })
  .openapi("Problem");

export type FieldError = z.infer<typeof FieldErrorSchema>;
export type Problem = z.infer<typeof ProblemSchema>;

/** Short machine-readable slug for each kind of problem, used in `type`. */
export type ProblemKind =
  | "bad-request"
  | "malformed-json"
  | "validation"
  | "unauthorized"
  | "forbidden"
  | "not-found"
  | "method-not-allowed"
  | "conflict"
  | "precondition-failed"
  | "precondition-required"
  | "payload-too-large"
  | "unsupported-media-type"
  | "too-many-requests"
  | "gone"
  | "not-ready"
  | "bad-gateway"
  | "internal";

/** A status an answer with a body can have (a problem always has one). */
export type ProblemStatus = ContentfulStatusCode;

const TITLES: Record<ProblemKind, [ProblemStatus, string]> = {
  "bad-request": [400, "Bad request"],
  "malformed-json": [400, "Malformed JSON"],
  validation: [422, "Validation failed"],
  unauthorized: [401, "Unauthorized"],
  forbidden: [403, "Forbidden"],
  "not-found": [404, "Not found"],
  "method-not-allowed": [405, "Method not allowed"],
  conflict: [409, "Conflict"],
  "precondition-failed": [412, "Precondition failed"],
  "precondition-required": [428, "Precondition required"],
  "payload-too-large": [413, "Payload too large"],
  "unsupported-media-type": [415, "Unsupported media type"],
  "too-many-requests": [429, "Too many requests"],
  gone: [410, "Gone"],
  "not-ready": [503, "Service not ready"],
  "bad-gateway": [502, "Bad gateway"],
  internal: [500, "Internal server error"],
};

export class ApiError extends Error {
  readonly status: ProblemStatus;
  readonly title: string;
  readonly kind: ProblemKind;
  readonly errors: FieldError[] | undefined;
  readonly headers: Record<string, string> | undefined;

  constructor(
    kind: ProblemKind,
    detail: string,
    opts: { errors?: FieldError[]; status?: ProblemStatus; headers?: Record<string, string> } = {},
  ) {
    super(detail);
    const [status, title] = TITLES[kind];
    this.kind = kind;
    this.status = opts.status ?? status;
    this.title = title;
    this.errors = opts.errors;
    this.headers = opts.headers;
  }

  toProblem(instance?: string, requestId?: string): Problem {
    const p: Problem = {
      type: PROBLEM_TYPE_BASE + this.kind,
      title: this.title,
      status: this.status,
      detail: this.message,
    };
    if (instance) p.instance = instance;
    if (requestId) p.requestId = requestId;
    if (this.errors?.length) p.errors = this.errors;
    return p;
  }
}

export const notFound = (what: string, id: string) =>
  new ApiError("not-found", `${what} '${id}' does not exist`);
