/**
 * The benchmarks keep working: each `npm run bench:*` script runs here at a
 * tiny size, as a user would start it, and must end with its summary line
 * and report no failed request. Their figures are not judged here (that is
 * what running them full size is for: docs/benchmarks.md).
 */
import { spawn } from "node:child_process";
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
  it("bench:boot measures the edge, the executable and the three ceilings pinned, with every answer checked", async () => {
    // The single executable's code path, with `chamicore edge` standing in for it: same env, same log line, same pid.
    const dir = mkdtempSync(join(tmpdir(), "chamicore-bench-exe-"));
    const exe = join(dir, "chamicore-edge");
    writeFileSync(
      exe,
      `#!/bin/sh\nexec ${process.execPath} ${join(process.cwd(), "edge-node/node/bin.mjs")} "$@"\n`,
    );
    chmodSync(exe, 0o755);
    const { code, out } = await bench("boot", {
      BENCH_NODES: "400",
      BENCH_STORM: "300",
      BENCH_RATES: "500",
      BENCH_IDLE: "200",
      BENCH_DURATION: "1",
      BENCH_ROUNDS: "1",
      BENCH_EDGE_EXE: exe,
    });
    rmSync(dir, { recursive: true, force: true });
    expect(code, out).toBe(0);
    // Servers on CPU 1, the generator on CPU 0 (taskset is part of util-linux, always here).
    expect(out).toMatch(/^pinning: servers on CPU 1 .* this generator on CPU 0$/m);
    expect(out).toMatch(/^edge executable \(.*chamicore-edge\) \(pid \d+, CPUs 1\) replicated 400 nodes/m);
    for (const name of ["bare node:http", "nginx", "bare Bun"])
      expect(out).toMatch(new RegExp(`^${name}: pid \\d+, CPUs 1$`, "m"));
    // Every candidate answered the storm, checked answer by answer, with its CPU time per request read.
    for (const name of ["edge", "edge executable", "bare node:http", "nginx", "bare Bun"])
      expect(out).toMatch(new RegExp(`  ${name}: served 300, errors 0, .*; CPU/req server \\d+ µs`));
    const summary = lastLine(out);
    expect(summary).toMatch(/^summary: boot nodes=400 storm=300 rounds=1 pinning=server-cpu1 \| edge: /);
    for (const key of ["edge", "exe"]) {
      const part = summary.split(" | ").find((p) => p.startsWith(`${key}: `)) ?? "";
      expect(part).toMatch(/storm@500\/s served=300\/300 errors=0 p99=/);
      expect(part).toMatch(
        / highest=\d+\/s\+? ([\d.]+×|n\/a) bare-node \(≥1.2 (PASS|FAIL|n\/a)\), ([\d.]+×|n\/a) nginx .*, ([\d.]+×|n\/a) bun /,
      );
      expect(part).toMatch(/ kept-alive=\d+ req\/s .* errors=0 ([\d.]+×|n\/a) bare-node /);
      expect(part).toMatch(/ cpu\/req new-conn=\d+ µs kept-alive=\d+ µs /);
      // meta-data, user-data and vendor-data for each of the 300 nodes, found by its address.
      expect(part).toMatch(/ cloud-init@500\/s served=900\/900 errors=0 /);
      expect(part).toMatch(/ rss steady=\d+ MiB peak=\d+ MiB /);
      expect(part).toMatch(/ exec-to-first-answer=[\d.]+ ms /);
      expect(part).toMatch(/ idle=200\/200 PASS$/);
    }
    for (const key of ["bare-node", "nginx", "bun"])
      expect(summary).toMatch(
        new RegExp(`\\| ${key}: highest=\\d+/s\\+? kept-alive=\\d+ req/s cpu/req new-conn=\\d+ µs`),
      );
  }, 300_000);

  it("bench:memory reads both edges' memory through a snapshot, idle connections and a restart", async () => {
    // The executable is dist/chamicore-edge, which the tests' global set-up has just built.
    const { code, out } = await bench("memory", { BENCH_NODES: "400", BENCH_IDLE: "200" });
    expect(code, out).toBe(0);
    const summary = lastLine(out);
    expect(summary).toMatch(/^summary: memory nodes=400 idle=200 \| exe: /);
    for (const key of ["exe", "node"])
      expect(summary).toMatch(
        new RegExp(
          `${key}: steady=\\d+ holding-idle=\\d+ peak=\\d+ restarted=\\d+ restarted-peak=\\d+ MiB (PASS|FAIL) idle=200/200 errors=0`,
        ),
      );
  }, 300_000);

  it("bench:artifacts has the executable edge and nginx serve one image to many nodes at once, every byte checked", async () => {
    const { code, out } = await bench("artifacts", {
      BENCH_ARTIFACT_MB: "4",
      BENCH_CLIENTS: "10",
      BENCH_ROUNDS: "1",
    });
    expect(code, out).toBe(0);
    expect(out).toMatch(/edge \(executable\) cached and verified 4 MB/);
    expect(lastLine(out)).toMatch(
      /^summary: artifacts mb=4 clients=10 rounds=1 pinning=server-cpu1 \| edge=\d+MB\/s nginx=\d+MB\/s mbps-vs-nginx=[\d.]+ .* errors=0$/,
    );
  }, 300_000);

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
