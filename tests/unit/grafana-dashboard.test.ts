/**
 * The Grafana dashboard shipped in deploy/grafana: the file is what its
 * typed source (scripts/grafana-dashboard.ts, checked against
 * @grafana/schema's Dashboard) renders, it declares the schema version of
 * that package, its panels tile the grid without overlapping, and every
 * query reads a metric or a recording rule the project defines. That each
 * metric exists on a running control plane or edge is checked in
 * tests/e2e/prometheus.test.ts.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { defaultDashboard } from "@grafana/schema";
import { describe, expect, it } from "vitest";
import { chamicoreDashboard, DASHBOARD_FILE, render } from "../../scripts/grafana-dashboard";

const dashboard = chamicoreDashboard();
type Box = { x: number; y: number; w: number; h: number };
const boxes = (dashboard.panels ?? []).map((p) => ({ id: p.id, ...(p.gridPos as Box) }));
const queries = (dashboard.panels ?? []).flatMap((p) =>
  "targets" in p ? ((p.targets ?? []) as { expr: string }[]).map((t) => t.expr) : [],
);

describe("the Grafana dashboard", () => {
  it("is the file in deploy/grafana, as `npm run gen:grafana` writes it", () => {
    expect(readFileSync(DASHBOARD_FILE, "utf8")).toBe(render());
  });

  it("declares the schema version of the @grafana/schema it is typed against", () => {
    expect(dashboard.schemaVersion).toBe(defaultDashboard.schemaVersion);
  });

  it("gives every panel its own id and place in the 24-column grid", () => {
    expect(new Set(boxes.map((b) => b.id)).size).toBe(boxes.length);
    for (const a of boxes) {
      expect(a.x + a.w).toBeLessThanOrEqual(24);
      for (const b of boxes)
        if (a !== b) {
          const apart = a.x + a.w <= b.x || b.x + b.w <= a.x || a.y + a.h <= b.y || b.y + b.h <= a.y;
          expect(apart, `panels ${a.id} and ${b.id} overlap`).toBe(true);
        }
    }
  });

  it("queries only metrics Chamicore exposes and rules it records", () => {
    expect(queries.length).toBeGreaterThan(10);
    const rules = readFileSync(
      join(import.meta.dirname, "../../deploy/prometheus/chamicore-rules.yml"),
      "utf8",
    );
    const recorded = new Set([...rules.matchAll(/- record: (\S+)/g)].map((m) => m[1]!));
    for (const expr of queries) {
      const names = [...expr.replace(/"[^"]*"/g, "").matchAll(/\b(chamicore[a-z0-9_:]*)/g)].map((m) => m[1]!);
      expect(names.length, expr).toBeGreaterThan(0);
      for (const n of names.filter((x) => x.includes(":"))) expect(recorded, expr).toContain(n);
    }
  });
});
