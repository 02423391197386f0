/**
 * Prometheus as a site runs it, against real processes: the rules file
 * (deploy/prometheus/chamicore-rules.yml) passes `promtool check rules`;
 * the control plane's and an edge's /metrics pass `promtool check metrics`
 * and hold every metric the rules read; and a real Prometheus scraping
 * both, with the rules loaded (their `for:` shortened), fires
 * ChamicoreEdgeDown when the edge is stopped and clears it when the edge
 * is back.
 */
import { execFile, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { beforeAll, describe, expect, it } from "vitest";
import { chamicoreDashboard } from "../../scripts/grafana-dashboard";
import {
  type ControlPlane,
  cleanupAfterAll,
  createEdgeAccount,
  edgeDataDir,
  edgeEnv,
  edgeReady,
  startControlPlane,
} from "../support/edge-site";
import { eventually, uniqueStream } from "../support/nats";
import { edge, freePort } from "../support/process";

const RULES = join(import.meta.dirname, "../../deploy/prometheus/chamicore-rules.yml");
const has = (bin: string) => {
  try {
    execFileSync("which", [bin]);
    return true;
  } catch {
    return false;
  }
};
const run = promisify(execFile);

/** `promtool check metrics` of an exposition: its complaints (none when it passes). */
function checkMetrics(text: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const p = spawn("promtool", ["check", "metrics"]);
    let out = "";
    p.stdout.on("data", (d) => (out += d));
    p.stderr.on("data", (d) => (out += d));
    p.on("close", (code) => resolve({ code: code ?? -1, out }));
    p.stdin.end(text);
  });
}

/** The metric names an exposition declares (its # TYPE lines: a metric with no series yet is there too). */
const declared = (text: string) => new Set([...text.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1]!));

describe.skipIf(!has("promtool") || !has("prometheus"))("Prometheus rules and alerts", () => {
  const cleanup = cleanupAfterAll();
  let cp: ControlPlane;
  let metricsUrl: string;
  let env: Record<string, string>;
  let edgeUrl: string;
  let stopEdge: () => void;

  beforeAll(async () => {
    const metricsListen = `127.0.0.1:${await freePort()}`;
    cp = await startControlPlane(cleanup, {
      database: "prometheus",
      ...uniqueStream("prometheus"),
      env: { CHAMICORE_METRICS_LISTEN: metricsListen },
    });
    metricsUrl = `http://${metricsListen}`;
    const creds = await createEdgeAccount(cp.api, "edge-prom");
    // Kea configured but not running: its metrics are there (and say it is down). TFTP on, for its own.
    env = edgeEnv(cp, creds, edgeDataDir(cleanup, "prom"), {
      CHAMICORE_EDGE_TFTP_LISTEN: "127.0.0.1:0",
      CHAMICORE_EDGE_LISTEN: `127.0.0.1:${await freePort()}`,
      KEA_CONTROL_URL: `http://127.0.0.1:${await freePort()}`,
    });
    // Its own port, kept: Prometheus scrapes the edge again there once it is back.
    const e = await edge(env);
    cleanup.push(() => e.child.kill("SIGKILL"));
    await edgeReady(e);
    edgeUrl = e.url;
    stopEdge = () => e.child.kill("SIGKILL");
  }, 120_000);

  it("has rules promtool accepts", async () => {
    const { stdout } = await run("promtool", ["check", "rules", RULES]);
    expect(stdout).toMatch(/SUCCESS: \d+ rules found/);
  });

  it("exposes metrics promtool accepts, holding every metric the rules read", async () => {
    const control = await (await fetch(`${metricsUrl}/metrics`)).text();
    const edge = await (await fetch(`${edgeUrl}/metrics`)).text();
    for (const [who, text] of [
      ["control plane", control],
      ["edge", edge],
    ] as const)
      expect(await checkMetrics(text), who).toEqual({ code: 0, out: "" });
    const exposed = new Set([...declared(control), ...declared(edge), "up"]);
    // What the rules read: metric names, not the recording rules' own (with ':') nor label values.
    const rules = readFileSync(RULES, "utf8");
    const read = new Set(
      [...rules.matchAll(/expr: ([\s\S]*?)\n\s+(?:for|labels|annotations|- record|- alert)/g)].flatMap((m) =>
        [...m[1]!.replace(/"[^"]*"/g, "").matchAll(/\b(chamicore_[a-z0-9_]+|up)\b/g)].map((n) => n[1]!),
      ),
    );
    expect(read.size).toBeGreaterThan(10);
    expect([...read].filter((name) => !exposed.has(name))).toEqual([]);

    // And every metric the Grafana dashboard queries (a histogram's series by its name).
    const queried = new Set(
      (chamicoreDashboard().panels ?? []).flatMap((p) =>
        ("targets" in p ? ((p.targets ?? []) as { expr: string }[]) : []).flatMap((t) =>
          [...t.expr.replace(/"[^"]*"/g, "").matchAll(/\b(chamicore_[a-z0-9_]+)/g)].map((m) =>
            m[1]!.replace(/_(bucket|sum|count)$/, ""),
          ),
        ),
      ),
    );
    expect(queried.size).toBeGreaterThan(15);
    expect([...queried].filter((name) => !exposed.has(name))).toEqual([]);
  });

  it("fires ChamicoreEdgeDown when the edge stops, and clears it when the edge is back", async () => {
    const dir = mkdtempSync(join(tmpdir(), "chamicore-prometheus-"));
    cleanup.push(() => rmSync(dir, { recursive: true, force: true }));
    // The rules as shipped, with their waits shortened to test speed.
    writeFileSync(join(dir, "rules.yml"), readFileSync(RULES, "utf8").replace(/for: \d+m/g, "for: 2s"));
    writeFileSync(
      join(dir, "prometheus.yml"),
      [
        "global: { scrape_interval: 1s, evaluation_interval: 1s }",
        "rule_files: [rules.yml]",
        "scrape_configs:",
        `  - { job_name: chamicore-control, static_configs: [{ targets: ["${metricsUrl.slice(7)}"] }] }`,
        `  - { job_name: chamicore-edge, static_configs: [{ targets: ["${edgeUrl.slice(7)}"] }] }`,
      ].join("\n"),
    );
    const listen = `127.0.0.1:${await freePort()}`;
    const prom = spawn(
      "prometheus",
      [
        `--config.file=${join(dir, "prometheus.yml")}`,
        `--storage.tsdb.path=${join(dir, "data")}`,
        `--web.listen-address=${listen}`,
      ],
      { stdio: "ignore" },
    );
    cleanup.push(() => prom.kill("SIGKILL"));
    // biome-ignore lint/suspicious/noExplicitAny: Prometheus's API answers are read freely.
    const api = async (path: string): Promise<any> =>
      ((await (await fetch(`http://${listen}/api/v1/${path}`)).json()) as { data: unknown }).data;
    const edgeDown = async () =>
      ((await api("alerts")).alerts as { labels: { alertname: string }; state: string }[]).find(
        (a) => a.labels.alertname === "ChamicoreEdgeDown",
      )?.state ?? "none";

    await eventually(
      "both targets scraped",
      async () =>
        (await api("targets").catch(() => ({ activeTargets: [] }))).activeTargets as { health: string }[],
      (ts) => ts.length === 2 && ts.every((t) => t.health === "up"),
    );
    expect(await edgeDown()).toBe("none");

    stopEdge();
    await eventually("ChamicoreEdgeDown firing", edgeDown, (s) => s === "firing", 30_000);

    const back = await edge(env);
    cleanup.push(() => back.child.kill("SIGKILL"));
    await edgeReady(back);
    await eventually("ChamicoreEdgeDown cleared", edgeDown, (s) => s === "none", 30_000);
  }, 90_000);
});
