/**
 * The Grafana dashboard of docs/observability.md, typed against
 * @grafana/schema's Dashboard at the schema version it declares: the
 * source of deploy/grafana/chamicore-dashboard.json, which
 * `npm run gen:grafana` writes and a test keeps equal to this.
 *
 * Three rows: the control plane, the edges (one line per edge), and a boot
 * storm (what the edges answer, how fast). Every query reads metrics a
 * running control plane or edge exposes (tests/e2e/prometheus.test.ts).
 */
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Dashboard, Panel, RowPanel } from "@grafana/schema";

/** The schema version of @grafana/schema 13.2 (its defaultDashboard): Grafana 12 and later import it. */
export const SCHEMA_VERSION = 42;

// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's own variable syntax, filled in by Grafana.
const ds = { type: "prometheus", uid: "${datasource}" };
let id = 0;
let y = 0;

type Query = { expr: string; legend: string };

function panel(
  type: "timeseries",
  title: string,
  description: string,
  queries: Query[],
  unit: string,
  at: { x: number; w: number; h?: number },
): Panel {
  return {
    id: ++id,
    type,
    title,
    description,
    datasource: ds,
    gridPos: { x: at.x, y, w: at.w, h: at.h ?? 8 },
    fieldConfig: { defaults: { unit }, overrides: [] },
    options: {},
    targets: queries.map((q, i) => ({
      refId: String.fromCharCode(65 + i),
      datasource: ds,
      expr: q.expr,
      legendFormat: q.legend,
    })),
  };
}

function row(title: string): RowPanel {
  const r: RowPanel = {
    id: ++id,
    type: "row",
    title,
    collapsed: false,
    panels: [],
    gridPos: { x: 0, y, w: 24, h: 1 },
  };
  y += 1;
  return r;
}

/** Panels side by side, sharing one line of the grid's 24 columns. */
function line(...panels: ((x: number, w: number) => Panel)[]): Panel[] {
  const w = 24 / panels.length;
  const out = panels.map((p, i) => p(i * w, w));
  y += 8;
  return out;
}

/** A time series panel, placed by `line`. */
const ts =
  (title: string, description: string, unit: string, ...queries: Query[]) =>
  (x: number, w: number) =>
    panel("timeseries", title, description, queries, unit, { x, w });

const edge = 'instance=~"$edge"';

export function chamicoreDashboard(): Dashboard {
  id = 0;
  y = 0;
  const control = 'job="chamicore-control"';
  const panels: (Panel | RowPanel)[] = [
    row("Control plane"),
    ...line(
      ts("API requests by status", "Answers per second of the control plane, by HTTP status.", "reqps", {
        expr: `sum by (status) (rate(chamicore_http_requests_total{${control}}[$__rate_interval]))`,
        legend: "{{status}}",
      }),
      ts("API latency, p95 by route", "95th percentile of answer time, for the ten slowest routes.", "s", {
        expr: `topk(10, histogram_quantile(0.95, sum by (le, route) (rate(chamicore_http_request_duration_seconds_bucket{${control}}[$__rate_interval]))))`,
        legend: "{{route}}",
      }),
      ts("Server errors", "Share of 5xx answers (alert ChamicoreServerErrors above 5%).", "percentunit", {
        expr: "chamicore:http_errors:ratio5m",
        legend: "{{job}}",
      }),
    ),
    ...line(
      ts(
        "Outbox",
        "Events published to NATS per second, and those waiting (alert ChamicoreOutboxBacklog).",
        "short",
        { expr: "sum(rate(chamicore_outbox_published_total[$__rate_interval]))", legend: "published/s" },
        { expr: "max(chamicore_outbox_unsent_events)", legend: "unsent" },
      ),
      ts("Relay failures", "Failed relay rounds (NATS unreachable, the database away).", "short", {
        expr: "sum(increase(chamicore_outbox_publish_failures_total[$__rate_interval]))",
        legend: "failed rounds",
      }),
      ts("Power tasks", "Power tasks finished, by final state.", "short", {
        expr: "sum by (state) (increase(chamicore_power_task_results_total[$__rate_interval]))",
        legend: "{{state}}",
      }),
    ),
    row("Edges"),
    ...line(
      ts(
        "Lag, events",
        "Events known at the control plane and not yet applied, per edge (alert ChamicoreEdgeLagging).",
        "short",
        { expr: `chamicore_edge_lag_events{${edge}}`, legend: "{{instance}}" },
      ),
      ts("Lag, seconds", "Age of the last applied event while behind; 0 when caught up.", "s", {
        expr: `chamicore_edge_lag_seconds{${edge}}`,
        legend: "{{instance}}",
      }),
      ts(
        "Since last contact",
        "Time since each edge last exchanged with the control plane or NATS (alert ChamicoreEdgeOutOfContact).",
        "s",
        { expr: `time() - chamicore_edge_last_contact_timestamp_seconds{${edge}}`, legend: "{{instance}}" },
      ),
    ),
    ...line(
      ts(
        "Feed and replica",
        "1 while an edge polls the change feed instead of following NATS (alert ChamicoreEdgePolling), or cannot write its replica (ChamicoreEdgeApplyFailing).",
        "short",
        { expr: `chamicore_edge_feed_mode{mode="poll", ${edge}}`, legend: "{{instance}} polling" },
        { expr: `chamicore_edge_apply_failing{${edge}}`, legend: "{{instance}} apply failing" },
      ),
      ts(
        "Kea",
        "Kea reachable (1) and the addresses it does not hold, per edge.",
        "short",
        { expr: `chamicore_edge_kea_up{${edge}}`, legend: "{{instance}} up" },
        { expr: `sum by (instance) (chamicore_edge_kea_problems{${edge}})`, legend: "{{instance}} problems" },
      ),
      ts(
        "Kea changes",
        "Reservation changes sent to Kea, by outcome (alert ChamicoreKeaRefusals on refused).",
        "short",
        {
          expr: `sum by (instance, outcome) (increase(chamicore_edge_kea_changes_total{${edge}}[$__rate_interval]))`,
          legend: "{{instance}} {{outcome}}",
        },
      ),
    ),
    row("Boot storm"),
    ...line(
      ts(
        "Boot scripts and cloud-init served",
        "Answers per second, by kind and outcome: a boot script's 'wait' is a node the inventory does not know.",
        "reqps",
        {
          expr: `sum by (kind, outcome) (rate(chamicore_edge_answers_total{${edge}}[$__rate_interval]))`,
          legend: "{{kind}} {{outcome}}",
        },
      ),
      ts("Edge latency, p99", "99th percentile of the edges' answer time, by route.", "s", {
        expr: `histogram_quantile(0.99, sum by (le, route) (rate(chamicore_http_request_duration_seconds_bucket{job="chamicore-edge", ${edge}}[$__rate_interval])))`,
        legend: "{{route}}",
      }),
      ts(
        "TFTP",
        "TFTP transfers running, and bytes the nodes acknowledged per second.",
        "short",
        { expr: `sum(chamicore_edge_tftp_transfers{${edge}})`, legend: "transfers" },
        {
          expr: `sum(rate(chamicore_edge_tftp_sent_bytes_total{${edge}}[$__rate_interval]))`,
          legend: "bytes/s",
        },
      ),
    ),
  ];
  return {
    title: "Chamicore",
    uid: "chamicore",
    description: "Control plane, edges and boot storms (docs/observability.md).",
    tags: ["chamicore", "hpc"],
    editable: true,
    graphTooltip: 1,
    schemaVersion: SCHEMA_VERSION,
    time: { from: "now-1h", to: "now" },
    timepicker: {},
    timezone: "browser",
    refresh: "30s",
    annotations: { list: [] },
    links: [],
    templating: {
      list: [
        { name: "datasource", label: "Prometheus", type: "datasource", query: "prometheus" },
        {
          name: "edge",
          label: "Edge",
          type: "query",
          datasource: ds,
          query: { query: "label_values(chamicore_edge_applied_position, instance)", refId: "edge" },
          includeAll: true,
          multi: true,
          allValue: ".*",
          refresh: 2,
        },
      ],
    },
    panels,
  };
}

export const DASHBOARD_FILE = join(import.meta.dirname, "../deploy/grafana/chamicore-dashboard.json");
export const render = () => `${JSON.stringify(chamicoreDashboard(), null, 2)}\n`;

if (process.argv[1] === import.meta.filename) {
  writeFileSync(DASHBOARD_FILE, render());
  console.log(`wrote ${DASHBOARD_FILE}`);
}
