/**
 * The HTTP skeleton every Chamicore API shares (control plane and edge):
 * request ids, access log and metrics, security headers, API-Version,
 * Cache-Control, JSON-only writes, body limits and problem+json errors.
 */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Env } from "hono";
import { requestId } from "hono/request-id";
import { secureHeaders } from "hono/secure-headers";
import type { Logger } from "../log";
import type { HttpMetrics } from "../metrics";
import { createErrorHandler, type FaultClassifier, notFoundHandler, validationHook } from "./errors";
import {
  bodyLimits,
  DEFAULT_BODY_LIMIT,
  defaultHeaders,
  finishBody,
  observe,
  requireJson,
  traced,
} from "./middleware";

export interface BaseAppOptions {
  logger: Logger;
  metrics: HttpMetrics;
  /** Paths that accept bodies larger than the 1 MiB default (bulk import). */
  largeBodies?: Record<string, number>;
  /**
   * Paths whose bodies are raw bytes streamed by the handler (artifact
   * uploads): no JSON rule and no size limit here; the handler checks both.
   */
  streamedBodies?: RegExp;
  /** Paths that accept application/x-www-form-urlencoded besides JSON (OAuth token endpoint). */
  formPaths?: readonly string[];
  /** Log successful requests at debug level (the edge's hot path). */
  quietAccessLog?: boolean;
  /** Failures that are a dependency's, not a bug (the database went away): answered 503, not 500. */
  classifyFault?: FaultClassifier;
}

export function createBaseApp<E extends Env>(opts: BaseAppOptions): OpenAPIHono<E> {
  const app = new OpenAPIHono<E>({ defaultHook: validationHook });
  app.use(
    requestId({
      // Propagate a caller's id only when it is a sane token; otherwise mint one.
      generator: () => crypto.randomUUID(),
      limitLength: 255,
    }),
  );
  // The span first: the access log line and every line of the request carry its ids.
  app.use(traced);
  app.use(observe(opts.logger, opts.metrics, opts.quietAccessLog));
  app.use(
    secureHeaders({
      // A route that sets its own (the web UI's stricter policy) keeps it.
      overwrite: false,
      xFrameOptions: "DENY",
      // The docs UI runs inline bootstrap code from our own origin only.
      contentSecurityPolicy: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", "data:"],
        frameAncestors: ["'none'"],
      },
    }),
  );
  app.use(defaultHeaders);
  app.use(finishBody);
  app.use(requireJson(opts.formPaths, opts.streamedBodies));
  app.use(bodyLimits(DEFAULT_BODY_LIMIT, opts.largeBodies ?? {}, opts.streamedBodies));
  app.onError(createErrorHandler(opts.logger, opts.classifyFault));
  app.notFound(notFoundHandler);
  return app;
}
