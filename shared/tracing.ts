/**
 * Tracing through the OpenTelemetry API alone. With no SDK registered (the
 * default; the Worker today) every call here is a no-op that costs next to
 * nothing. `chamicore serve` and `chamicore edge` register the SDK when
 * OTEL_EXPORTER_OTLP_ENDPOINT is set (functions/node/tracing.ts).
 *
 * A change is one trace from the API request to every edge that applies
 * it: the request's traceparent is stored with its outbox rows, the relay's
 * publish continues it and carries its own in the CloudEvent
 * (`traceparent`, the CloudEvents distributed-tracing extension) and in
 * the NATS headers, and each edge's apply continues that.
 */
import {
  type Attributes,
  type Context,
  context,
  type Link,
  propagation,
  ROOT_CONTEXT,
  type Span,
  SpanKind,
  SpanStatusCode,
  trace,
} from "@opentelemetry/api";

export { type Span, SpanKind };

export const tracer = () => trace.getTracer("chamicore");

/** Whether the environment asks for traces (the SDK is loaded only then). */
export const tracingWanted = (env: Record<string, string | undefined>) =>
  Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT) &&
  env.OTEL_SDK_DISABLED !== "true";

/** Runs `fn` in a new active span `name`; ends it, marked failed if `fn` throws. */
export function inSpan<T>(
  name: string,
  attributes: Attributes,
  fn: (span: Span) => T,
  opts: { parent?: Context; kind?: SpanKind; links?: Link[] } = {},
): T {
  return tracer().startActiveSpan(
    name,
    { attributes, kind: opts.kind ?? SpanKind.INTERNAL, links: opts.links },
    opts.parent ?? context.active(),
    (span) => {
      const fail = (e: unknown) => {
        span.recordException(e instanceof Error ? e : String(e));
        span.setStatus({ code: SpanStatusCode.ERROR, message: e instanceof Error ? e.message : String(e) });
        span.end();
        throw e;
      };
      let out: T;
      try {
        out = fn(span);
      } catch (e) {
        return fail(e);
      }
      if (out instanceof Promise)
        return out.then((v) => {
          span.end();
          return v;
        }, fail) as T;
      span.end();
      return out;
    },
  );
}

/** The active span's W3C traceparent, to carry with what it hands on; none when nothing is traced. */
export function activeTraceparent(): string | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(context.active(), carrier);
  return carrier.traceparent;
}

/** The W3C traceparent of `span`, to hand on after it ended. */
export function traceparentOf(span: Span): string | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(trace.setSpan(ROOT_CONTEXT, span), carrier);
  return carrier.traceparent;
}

/**
 * Work done for several traced causes (one Kea write for many applied
 * events): a child of the first, linked to the others; nothing to trace
 * when there is no cause.
 */
export function forCauses<T>(
  causes: readonly string[],
  name: string,
  attributes: Attributes,
  fn: (span: Span | undefined) => T,
  kind = SpanKind.CLIENT,
): T {
  if (causes.length === 0) return fn(undefined);
  const links = causes
    .slice(1)
    .map((t) => trace.getSpanContext(continuing(t)))
    .filter((c): c is NonNullable<typeof c> => c !== undefined)
    .map((c) => ({ context: c }));
  return inSpan(name, attributes, fn, { parent: continuing(causes[0]), kind, links });
}

/**
 * A step of traced work (a BMC request of a traced power transition): a
 * span `name` under the active span, or no span at all when nothing is
 * traced here, so that untraced work (a scheduled scan) starts no trace of
 * its own per call.
 */
export function inTrace<T>(
  name: string,
  attributes: Attributes,
  fn: (span: Span | undefined) => T,
  kind = SpanKind.CLIENT,
): T {
  if (!trace.getActiveSpan()?.isRecording()) return fn(undefined);
  return inSpan(name, attributes, fn, { kind });
}

/** The context a carried traceparent continues; the root when there is none (or it is malformed). */
export const continuing = (traceparent: string | null | undefined): Context =>
  traceparent ? propagation.extract(ROOT_CONTEXT, { traceparent }) : ROOT_CONTEXT;

/** The context of a request's `traceparent` header, if it has one. */
export const fromHeaders = (get: (name: string) => string | undefined): Context =>
  propagation.extract(
    ROOT_CONTEXT,
    { traceparent: get("traceparent"), tracestate: get("tracestate") },
    {
      keys: (c) => Object.keys(c),
      get: (c, k) => c[k as keyof typeof c] ?? undefined,
    },
  );

/** A span attribute: the lot for this new trace was drawn already, and kept it (functions/node/tracing.ts). */
export const PRESAMPLED = "chamicore.presampled";

/**
 * A server span for a request already answered (the edge's hot routes,
 * which skip the middleware): started at `startTime` (`performance.now()`),
 * ended now, continuing the caller's `traceparent`. With `ratio` (the
 * SDK's share of new traces, when its default sampler runs), a request no
 * caller traces draws its lot here first, and the many not kept build
 * nothing at all; without, the SDK's sampler decides for every request.
 */
export function answeredSpan(
  name: string,
  startTime: number,
  attributes: Attributes,
  header: (name: string) => string | undefined,
  ratio?: number,
): void {
  const parent = header("traceparent");
  if (parent === undefined && ratio !== undefined) {
    if (Math.random() >= ratio) return;
    attributes[PRESAMPLED] = true;
  }
  tracer()
    .startSpan(
      name,
      { kind: SpanKind.SERVER, startTime, attributes },
      parent === undefined ? ROOT_CONTEXT : fromHeaders(header),
    )
    .end();
}

/** `trace_id` and `span_id` of the active span, for a log line inside it. */
export function activeIds(): { trace_id: string; span_id: string } | undefined {
  const s = trace.getActiveSpan()?.spanContext();
  return s && trace.isSpanContextValid(s) ? { trace_id: s.traceId, span_id: s.spanId } : undefined;
}

/**
 * Runs `fn` once for a batch of items some of which carry a traceparent
 * (events from the feed or the stream): each of those gets a span `name`
 * in its own trace, spanning `fn`. Nothing is made when none carries one.
 */
export function forCarried<C extends { traceparent?: string | undefined }, T>(
  carried: readonly C[],
  name: string,
  attributesOf: (c: C) => Attributes,
  fn: (spans: Span[]) => T,
  kind = SpanKind.CONSUMER,
): T {
  const traced = carried.filter((c) => c.traceparent);
  if (traced.length === 0) return fn([]);
  const spans = traced.map((c) =>
    tracer().startSpan(name, { kind, attributes: attributesOf(c) }, continuing(c.traceparent)),
  );
  try {
    return fn(spans);
  } catch (e) {
    for (const s of spans) {
      s.recordException(e instanceof Error ? e : String(e));
      s.setStatus({ code: SpanStatusCode.ERROR, message: e instanceof Error ? e.message : String(e) });
    }
    throw e;
  } finally {
    for (const s of spans) s.end();
  }
}
