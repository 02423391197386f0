/**
 * The OpenTelemetry SDK for `chamicore serve` and `chamicore edge`: on only
 * when OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
 * is set, configured by the standard OTEL_* variables (service name,
 * resource attributes, sampler, headers), exporting over OTLP/HTTP in
 * batches. Log lines written inside a span carry its trace_id and span_id.
 */

import type { Attributes, Context, Link, SpanKind } from "@opentelemetry/api";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { detectResources, envDetector, resourceFromAttributes } from "@opentelemetry/resources";
import {
  BatchSpanProcessor,
  NodeTracerProvider,
  ParentBasedSampler,
  type Sampler,
  SamplingDecision,
  type SamplingResult,
  TraceIdRatioBasedSampler,
} from "@opentelemetry/sdk-trace-node";
import { setLineContext } from "../../shared/log";
import { activeIds, PRESAMPLED, tracingWanted } from "../../shared/tracing";

export interface TracingOptions {
  /** `service.name` unless OTEL_SERVICE_NAME says otherwise. */
  serviceName: string;
  /** More resource attributes (OTEL_RESOURCE_ATTRIBUTES wins), e.g. the edge's name. */
  attributes?: Record<string, string>;
  /**
   * The share of new traces kept when OTEL_TRACES_SAMPLER is unset (traces
   * continued from a caller follow the caller's decision). The edge keeps
   * 1% of boot-script and cloud-init requests, so a boot storm pays almost
   * nothing; the control plane keeps all.
   */
  defaultRatio?: number;
  env?: Record<string, string | undefined>;
}

export interface Tracing {
  /** Flushes what is buffered and stops the SDK. */
  stop(): Promise<void>;
  /**
   * The share of new traces kept, when this module's default sampler is in
   * use (undefined with OTEL_TRACES_SAMPLER): a hot path may draw the lot
   * itself, before it builds a span, and mark the kept ones `PRESAMPLED`.
   */
  rootRatio: number | undefined;
}

/** Starts the SDK when wanted. */
export function startTracing(o: TracingOptions): Tracing | undefined {
  const env = o.env ?? process.env;
  if (!tracingWanted(env)) return undefined;
  const rootRatio =
    env.OTEL_TRACES_SAMPLER || o.defaultRatio === undefined
      ? undefined
      : Number(env.OTEL_TRACES_SAMPLER_ARG ?? o.defaultRatio);
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ "service.name": o.serviceName, ...o.attributes }).merge(
      detectResources({ detectors: [envDetector] }),
    ),
    ...(rootRatio === undefined
      ? {}
      : {
          sampler: new ParentBasedSampler({
            root: new PresampledOr(new TraceIdRatioBasedSampler(rootRatio)),
          }),
        }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  provider.register({ propagator: new W3CTraceContextPropagator() });
  setLineContext(activeIds);
  return {
    rootRatio,
    stop: async () => {
      setLineContext(() => undefined);
      await provider.shutdown();
    },
  };
}

/**
 * Keeps a new trace whose first span says it was drawn already (the edge's
 * hot routes draw at the same ratio before building anything, so that the
 * 99% not kept cost one random number); asks `ratio` for any other.
 */
class PresampledOr implements Sampler {
  constructor(private readonly ratio: Sampler) {}

  shouldSample(
    context: Context,
    traceId: string,
    name: string,
    kind: SpanKind,
    attributes: Attributes,
    links: Link[],
  ): SamplingResult {
    if (attributes[PRESAMPLED] === true) return { decision: SamplingDecision.RECORD_AND_SAMPLED };
    return this.ratio.shouldSample(context, traceId, name, kind, attributes, links);
  }

  toString() {
    return `PresampledOr{${this.ratio.toString()}}`;
  }
}
