import { describe, expect, it } from "vitest";
import { Counter, DEFAULT_BUCKETS, Gauge, Histogram, httpMetrics, Registry } from "../../shared/metrics";

/** Sample lines (not comments) of an exposition. */
const samples = (text: string) => text.split("\n").filter((l) => l !== "" && !l.startsWith("#"));

/** A Prometheus 0.0.4 sample line: name, optional {labels}, a number. */
const SAMPLE_LINE =
  /^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\n"])*"(,[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\[\\n"])*")*\})? -?[0-9.e+-]+$/;

describe("Counter", () => {
  it("renders HELP and TYPE, then one line per label set", () => {
    const c = new Counter("jobs_total", "Jobs run.");
    c.inc();
    c.inc({ kind: "boot" }, 2);
    c.inc({ kind: "boot" });
    expect(c.render()).toBe(
      [
        "# HELP jobs_total Jobs run.",
        "# TYPE jobs_total counter",
        "jobs_total 1",
        'jobs_total{kind="boot"} 3',
      ].join("\n"),
    );
  });

  it("renders only HELP and TYPE before anything is counted", () => {
    expect(new Counter("idle_total", "Nothing yet.").render()).toBe(
      "# HELP idle_total Nothing yet.\n# TYPE idle_total counter",
    );
  });

  it("sorts label names, so the same labels in another order are the same series", () => {
    const c = new Counter("req_total", "Requests.");
    c.inc({ status: "200", method: "GET" });
    c.inc({ method: "GET", status: "200" });
    expect(samples(c.render())).toEqual(['req_total{method="GET",status="200"} 2']);
    expect(c.get({ status: "200", method: "GET" })).toBe(2);
    expect(c.get({ method: "POST" })).toBe(0);
  });

  it("escapes backslashes, quotes and newlines in label values", () => {
    const c = new Counter("odd_total", "Odd labels.");
    c.inc({ path: 'C:\\dir "x"\nnext' });
    const [line] = samples(c.render());
    expect(line).toBe('odd_total{path="C:\\\\dir \\"x\\"\\nnext"} 1');
    expect(line).toMatch(SAMPLE_LINE);
  });
});

describe("Gauge", () => {
  it("keeps the last value per label set", () => {
    const g = new Gauge("temp_celsius", "Temperature.");
    g.set(40, { rack: "x1000" });
    g.set(42.5, { rack: "x1000" });
    g.set(-3);
    expect(g.render()).toBe(
      [
        "# HELP temp_celsius Temperature.",
        "# TYPE temp_celsius gauge",
        'temp_celsius{rack="x1000"} 42.5',
        "temp_celsius -3",
      ].join("\n"),
    );
  });
});

describe("Histogram", () => {
  it("renders cumulative buckets, +Inf equal to the count, _sum and _count", () => {
    const h = new Histogram("lat_seconds", "Latency.", [0.25, 0.5, 1]);
    // binary fractions, so the sum is exact; 0.25 sits on a bucket bound (le is <=)
    for (const v of [0.125, 0.25, 0.375, 0.75, 3]) h.observe(v, { route: "/x" });
    expect(h.render()).toBe(
      [
        "# HELP lat_seconds Latency.",
        "# TYPE lat_seconds histogram",
        'lat_seconds_bucket{route="/x",le="0.25"} 2',
        'lat_seconds_bucket{route="/x",le="0.5"} 3',
        'lat_seconds_bucket{route="/x",le="1"} 4',
        'lat_seconds_bucket{route="/x",le="+Inf"} 5',
        'lat_seconds_sum{route="/x"} 4.5',
        'lat_seconds_count{route="/x"} 5',
      ].join("\n"),
    );
  });

  it("renders an unlabelled series with only the le label", () => {
    const h = new Histogram("h", "H.", [1]);
    h.observe(2);
    expect(samples(h.render())).toEqual([
      'h_bucket{le="1"} 0',
      'h_bucket{le="+Inf"} 1',
      "h_sum 2",
      "h_count 1",
    ]);
  });

  it("keeps label sets apart and the default buckets non-decreasing", () => {
    const h = new Histogram("d_seconds", "D.");
    const values = [0.0005, 0.003, 0.02, 0.2, 0.2, 4, 60];
    for (const v of values) h.observe(v, { method: "GET" });
    h.observe(0.01, { method: "POST" });
    const get = samples(h.render()).filter((l) => l.includes('method="GET"'));
    const buckets = get.filter((l) => l.startsWith("d_seconds_bucket"));
    expect(buckets).toHaveLength(DEFAULT_BUCKETS.length + 1);
    const counts = buckets.map((l) => Number(l.split(" ").at(-1)));
    for (let i = 1; i < counts.length; i++) expect(counts[i]).toBeGreaterThanOrEqual(counts[i - 1]!);
    expect(counts.at(-1)).toBe(values.length);
    expect(get).toContain(`d_seconds_count{method="GET"} ${values.length}`);
    expect(samples(h.render())).toContain('d_seconds_count{method="POST"} 1');
  });
});

describe("Registry", () => {
  it("joins every metric and ends with a newline, each sample line well-formed", () => {
    const r = new Registry();
    const m = httpMetrics(r);
    m.requests.inc({ method: "GET", route: "/hsm/v2/State/Components", status: "200" });
    m.duration.observe(0.004, { method: "GET", route: "/hsm/v2/State/Components", status: "200" });
    const text = r.render();
    expect(text.endsWith("\n")).toBe(true);
    expect(text).toContain("# TYPE chamicore_http_requests_total counter\n");
    expect(text).toContain("# TYPE chamicore_http_request_duration_seconds histogram\n");
    expect(text.indexOf("chamicore_http_requests_total")).toBeLessThan(
      text.indexOf("chamicore_http_request_duration_seconds"),
    );
    for (const line of samples(text)) expect(line).toMatch(SAMPLE_LINE);
    expect(text).toContain(
      'chamicore_http_request_duration_seconds_bucket{method="GET",route="/hsm/v2/State/Components",status="200",le="0.005"} 1',
    );
  });

  it("returns the registered metric", () => {
    const r = new Registry();
    const c = new Counter("a_total", "A.");
    expect(r.register(c)).toBe(c);
  });
});
