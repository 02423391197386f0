/**
 * A minimal Prometheus registry (counters and histograms with labels) that
 * runs in workerd as well as Node, rendered in the text exposition format
 * 0.0.4. prom-client is Node-only, and we need only these two kinds.
 */
type Labels = Record<string, string>;

const labelKey = (labels: Labels) =>
  Object.keys(labels)
    .sort()
    .map((k) => `${k}="${escapeLabel(labels[k] ?? "")}"`)
    .join(",");

const escapeLabel = (v: string) => v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');

interface Metric {
  render(): string;
}

export class Counter implements Metric {
  private values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  inc(labels: Labels = {}, by = 1) {
    const k = labelKey(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  get(labels: Labels = {}) {
    return this.values.get(labelKey(labels)) ?? 0;
  }
  /** One series, its labels encoded once: for a path that counts thousands of times a second. */
  bind(labels: Labels = {}): { inc(by?: number): void } {
    const k = labelKey(labels);
    const values = this.values;
    return { inc: (by = 1) => void values.set(k, (values.get(k) ?? 0) + by) };
  }
  render() {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const [k, v] of this.values) lines.push(`${this.name}${k ? `{${k}}` : ""} ${v}`);
    return lines.join("\n");
  }
}

export class Gauge implements Metric {
  private values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  set(value: number, labels: Labels = {}) {
    this.values.set(labelKey(labels), value);
  }
  render() {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`];
    for (const [k, v] of this.values) lines.push(`${this.name}${k ? `{${k}}` : ""} ${v}`);
    return lines.join("\n");
  }
}

/** Latency buckets in seconds, from a fast cache hit to a slow bulk import. */
export const DEFAULT_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface Series {
  counts: number[];
  sum: number;
  count: number;
}

export class Histogram implements Metric {
  private series = new Map<string, Series>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: number[] = DEFAULT_BUCKETS,
  ) {}
  observe(value: number, labels: Labels = {}) {
    this.record(this.seriesOf(labelKey(labels)), value);
  }
  /** One series, its labels encoded once (it appears in the output at its first observation). */
  bind(labels: Labels = {}): { observe(value: number): void } {
    const k = labelKey(labels);
    let s: Series | undefined;
    return {
      observe: (value) => {
        s ??= this.seriesOf(k);
        this.record(s, value);
      },
    };
  }
  private seriesOf(k: string): Series {
    let s = this.series.get(k);
    if (!s) {
      s = { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.series.set(k, s);
    }
    return s;
  }
  private record(s: Series, value: number) {
    for (let i = 0; i < this.buckets.length; i++) if (value <= this.buckets[i]!) s.counts[i]!++;
    s.sum += value;
    s.count++;
  }
  render() {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [k, s] of this.series) {
      const sep = k ? "," : "";
      this.buckets.forEach((b, i) => {
        lines.push(`${this.name}_bucket{${k}${sep}le="${b}"} ${s.counts[i]}`);
      });
      lines.push(`${this.name}_bucket{${k}${sep}le="+Inf"} ${s.count}`);
      lines.push(`${this.name}_sum${k ? `{${k}}` : ""} ${s.sum}`);
      lines.push(`${this.name}_count${k ? `{${k}}` : ""} ${s.count}`);
    }
    return lines.join("\n");
  }
}

export class Registry {
  private metrics: Metric[] = [];
  register<M extends Metric>(m: M): M {
    this.metrics.push(m);
    return m;
  }
  render(): string {
    return `${this.metrics.map((m) => m.render()).join("\n")}\n`;
  }
}

/** The HTTP metrics every Chamicore server exposes. */
export function httpMetrics(registry: Registry) {
  return {
    requests: registry.register(
      new Counter("chamicore_http_requests_total", "HTTP requests by method, route and status."),
    ),
    duration: registry.register(
      new Histogram(
        "chamicore_http_request_duration_seconds",
        "HTTP request latency by method, route and status.",
      ),
    ),
  };
}
export type HttpMetrics = ReturnType<typeof httpMetrics>;
