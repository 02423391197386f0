/**
 * The Worker carries the control plane only: the bundle `wrangler deploy`
 * would upload (its esbuild metafile) holds nothing of the CLI, the edge,
 * the Node-only folders or the Node-only packages, nor the docs UI's files
 * (static assets beside it). Prints its size and its
 * ten largest modules, the figures to watch when it grows.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const out = mkdtempSync(join(tmpdir(), "chamicore-worker-bundle-"));
afterAll(() => rmSync(out, { recursive: true, force: true }));

const NOT_ON_THE_WORKER =
  /^(control\/(cli|node)\/|shared\/node\/|functions\/node\/|edge-node\/|scripts\/|tests\/)|node_modules\/(yargs|better-sqlite3|@electric-sql|@hono\/node-server|openapi-fetch|swagger-ui-dist)\//;

describe("the Worker bundle", () => {
  it("holds no CLI, edge or Node-only module", { timeout: 120_000 }, () => {
    execFileSync(
      "npx",
      ["wrangler", "deploy", "--dry-run", "--outdir", out, "--metafile", join(out, "meta.json")],
      {
        stdio: "pipe",
        env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
      },
    );
    const meta = JSON.parse(readFileSync(join(out, "meta.json"), "utf8")) as {
      outputs: Record<string, { bytes: number; inputs: Record<string, { bytesInOutput: number }> }>;
    };
    const [name, bundle] = Object.entries(meta.outputs).find(([k]) => k.endsWith("worker.js"))!;
    // Paths as the metafile spells them, relative to where wrangler ran.
    const inputs = Object.entries(bundle.inputs).map(
      ([f, v]) => [f.replace(/^(\.\.\/)+/, ""), v.bytesInOutput] as const,
    );
    expect(inputs.map(([f]) => f)).toContain("control/worker.ts");
    expect(inputs.map(([f]) => f).filter((f) => NOT_ON_THE_WORKER.test(f))).toEqual([]);
    const top = [...inputs].sort((a, b) => b[1] - a[1]).slice(0, 10);
    console.log(
      `worker bundle ${name.split("/").pop()}: ${(bundle.bytes / 1e6).toFixed(2)} MB; largest: ${top.map(([f, b]) => `${f} ${(b / 1e3).toFixed(0)} kB`).join(", ")}`,
    );
  });
});
