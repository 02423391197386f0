/**
 * The OpenTelemetry SDK for `chamicore serve` and `chamicore edge`: on only
 * when OTEL_EXPORTER_OTLP_ENDPOINT (or OTEL_EXPORTER_OTLP_TRACES_ENDPOINT)
 * is set, configured by the standard OTEL_* variables (service name,
 * resource attributes, sampler, headers), exporting over OTLP/HTTP in
 * batches. Log lines written inside a span carry its trace_id and span_id.
 */
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-http";
import { detectResources, envDetector, resourceFromAttributes } from "@opentelemetry/resources";
import {
  BatchSpanProcessor,
  NodeTracerProvider,
  ParentBasedSampler,
  TraceIdRatioBasedSampler,
} from "@opentelemetry/sdk-trace-node";
import { setLineContext } from "../../shared/log";
import { activeIds, tracingWanted } from "../../shared/tracing";

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

/** Starts the SDK when wanted; the returned function flushes what is buffered and stops it. */
export function startTracing(o: TracingOptions): (() => Promise<void>) | undefined {
  const env = o.env ?? process.env;
  if (!tracingWanted(env)) return undefined;
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ "service.name": o.serviceName, ...o.attributes }).merge(
      detectResources({ detectors: [envDetector] }),
    ),
    ...(env.OTEL_TRACES_SAMPLER || o.defaultRatio === undefined
      ? {}
      : {
          sampler: new ParentBasedSampler({
            root: new TraceIdRatioBasedSampler(Number(env.OTEL_TRACES_SAMPLER_ARG ?? o.defaultRatio)),
          }),
        }),
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter())],
  });
  provider.register({ propagator: new W3CTraceContextPropagator() });
  setLineContext(activeIds);
  return async () => {
    setLineContext(() => undefined);
    await provider.shutdown();
  };
}
