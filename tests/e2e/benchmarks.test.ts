/**
 * The benchmarks keep working: each `npm run bench:*` script runs here at a
 * tiny size, as a user would start it, and must end with its summary line
 * and report no failed request. Their figures are not judged here (that is
 * what running them full size is for: docs/benchmarks.md).
 */
import { spawn } from "node:child_process";
import { describe, expect, it } from "vitest";

function bench(script: string, env: Record<string, string>) {
  return new Promise<{ code: number | null; out: string }>((resolve) => {
    const child = spawn("npx", ["tsx", `scripts/bench/${script}.ts`], {
      env: { ...process.env, ...env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.stderr.on("data", (d) => {
      out += d;
    });
    child.on("exit", (code) => resolve({ code, out }));
  });
}

const lastLine = (out: string) => out.trim().split("\n").at(-1) ?? "";

describe("benchmarks at smoke size", () => {
  it("bench:boot storms the edge, bare node:http and nginx with every answer checked", async () => {
    const { code, out } = await bench("boot", {
      BENCH_NODES: "400",
      BENCH_STORM: "300",
      BENCH_RATE: "500",
      BENCH_IDLE: "200",
      BENCH_DURATION: "1",
    });
    expect(code, out).toBe(0);
    const summary = lastLine(out);
    expect(summary).toMatch(/^summary: boot nodes=400 storm=300@500\/s served=300 errors=0 /);
    expect(summary).toMatch(/idle=200\/200 /);
    expect(summary).toMatch(/cloud-init p99=[\d.]+ ms errors=0 /);
    // Every server answered the storm, checked answer by answer.
    for (const name of ["edge", "bare node:http", "nginx"])
      expect(out).toMatch(new RegExp(`  ${name}: served 300, errors 0,`));
  }, 240_000);

  it("bench:propagation sees every change at the edge", async () => {
    const { code, out } = await bench("propagation", { BENCH_NODES: "300", BENCH_CHANGES: "10" });
    expect(code, out).toBe(0);
    expect(lastLine(out)).toMatch(
      /^summary: propagation nodes=300 changes=10 events=nats p50=[\d.]+ ms p99=/,
    );
  }, 120_000);

  it("bench:inventory imports and reads back over Postgres", async () => {
    const { code, out } = await bench("inventory", {
      BENCH_NODES: "500",
      BENCH_GETS: "100",
      BENCH_PAGES: "3",
    });
    expect(code, out).toBe(0);
    expect(lastLine(out)).toMatch(/^summary: inventory postgres nodes=500 import=[\d.]+ s GET p50=/);
  }, 120_000);
});
