/**
 * Traces from the Worker: the OpenTelemetry SDK's core with a fetch-based
 * OTLP/HTTP exporter (the Node exporter needs node:http), on when the
 * Worker's OTEL_EXPORTER_OTLP_ENDPOINT is set. Spans are batched per
 * isolate and sent after each answer, in `waitUntil`, once the request's
 * own after-work (the outbox flush, whose publish spans belong to the same
 * trace) is done.
 */

import { context, propagation, trace } from "@opentelemetry/api";
import { AsyncLocalStorageContextManager } from "@opentelemetry/context-async-hooks";
import { W3CTraceContextPropagator } from "@opentelemetry/core";
import { JsonTraceSerializer } from "@opentelemetry/otlp-transformer";
import { resourceFromAttributes } from "@opentelemetry/resources";
import {
  BasicTracerProvider,
  BatchSpanProcessor,
  ParentBasedSampler,
  type ReadableSpan,
  type SpanExporter,
  TraceIdRatioBasedSampler,
} from "@opentelemetry/sdk-trace-base";
import { setLineContext } from "../shared/log";
import { activeIds, tracingWanted } from "../shared/tracing";

export interface WorkerTracingEnv {
  OTEL_EXPORTER_OTLP_ENDPOINT?: string;
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?: string;
  OTEL_EXPORTER_OTLP_HEADERS?: string;
  OTEL_SERVICE_NAME?: string;
  OTEL_TRACES_SAMPLER?: string;
  OTEL_TRACES_SAMPLER_ARG?: string;
  OTEL_SDK_DISABLED?: string;
}

/** OTLP/HTTP JSON over fetch. */
class FetchSpanExporter implements SpanExporter {
  constructor(
    private readonly url: string,
    private readonly headers: Record<string, string>,
  ) {}
  export(spans: ReadableSpan[], done: (r: { code: number; error?: Error }) => void): void {
    const body = JsonTraceSerializer.serializeRequest(spans);
    if (!body) {
      done({ code: 1, error: new Error("spans could not be serialized") });
      return;
    }
    fetch(this.url, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...this.headers },
      body,
    })
      .then(async (res) => {
        await res.body?.cancel();
        done(res.ok ? { code: 0 } : { code: 1, error: new Error(`OTLP endpoint answered ${res.status}`) });
      })
      .catch((error: Error) => done({ code: 1, error }));
  }
  async shutdown(): Promise<void> {}
}

/** `k=v,k2=v2` (OTEL_EXPORTER_OTLP_HEADERS). */
const headersOf = (s: string | undefined) =>
  Object.fromEntries(
    (s ?? "")
      .split(",")
      .map((kv) => kv.split("=").map((x) => decodeURIComponent(x.trim())))
      .filter((kv): kv is [string, string] => kv.length === 2 && kv[0] !== ""),
  );

/** The isolate's tracing, started on the first request that has the settings; undefined when off. */
export function workerTracing(env: WorkerTracingEnv): { flush(): Promise<void> } | undefined {
  if (!tracingWanted(env as Record<string, string | undefined>)) return undefined;
  const url =
    env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT ??
    `${env.OTEL_EXPORTER_OTLP_ENDPOINT!.replace(/\/+$/, "")}/v1/traces`;
  const ratio = env.OTEL_TRACES_SAMPLER?.endsWith("traceidratio")
    ? Number(env.OTEL_TRACES_SAMPLER_ARG ?? 1)
    : 1;
  const processor = new BatchSpanProcessor(
    new FetchSpanExporter(url, headersOf(env.OTEL_EXPORTER_OTLP_HEADERS)),
  );
  const provider = new BasicTracerProvider({
    resource: resourceFromAttributes({
      "service.name": env.OTEL_SERVICE_NAME ?? "chamicore-control",
      "cloud.platform": "cloudflare_workers",
    }),
    sampler: new ParentBasedSampler({ root: new TraceIdRatioBasedSampler(ratio) }),
    spanProcessors: [processor],
  });
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(new W3CTraceContextPropagator());
  trace.setGlobalTracerProvider(provider);
  setLineContext(activeIds);
  return { flush: () => provider.forceFlush() };
}
