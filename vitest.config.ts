import { resolve } from "node:path";
import { defineConfig } from "vitest/config";

/**
 * The edge's end-to-end suites run twice: against `chamicore edge` on Node,
 * and against the single executable (dist/chamicore-edge, built by the
 * global set-up), which is what sites install.
 */
const EDGE_SUITES = [
  "tests/e2e/edge.test.ts",
  "tests/e2e/edge-faults.test.ts",
  "tests/e2e/edge-liveness.test.ts",
  "tests/e2e/edge-agent.test.ts",
  "tests/e2e/dhcp.test.ts",
  "tests/e2e/boot-progress.test.ts",
  "tests/e2e/edge-tftp.test.ts",
  "tests/e2e/edge-artifacts.test.ts",
  "tests/e2e/tracing.test.ts",
  "tests/e2e/air-gap.test.ts",
];

export default defineConfig({
  test: {
    projects: [
      { extends: true, test: { name: "node", include: ["tests/**/*.test.ts"] } },
      {
        extends: true,
        test: {
          name: "edge-exe",
          include: EDGE_SUITES,
          env: { CHAMICORE_TEST_EDGE_EXE: resolve("dist/chamicore-edge") },
        },
      },
    ],
    reporters: ["default", "./tests/support/summary-reporter.ts"],
    // The bins run the bundled CLI (dist/cli): rebuilt first if a source changed.
    globalSetup: [
      "./tests/support/build-cli.ts",
      "./tests/support/build-edge.ts",
      "./tests/support/build-ui.ts",
    ],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    // Integration suites start databases and workerd; two cores run two files at a time at most.
    maxWorkers: 2,
    // Miniflare's local Hyperdrive proxy pipes workerd's socket to Postgres
    // without error handlers, so a socket that workerd resets after a failed
    // query surfaces as an unhandled ECONNRESET in the test process. Only that
    // exact error is ignored; every other unhandled error still fails the run.
    // For the same reason, a write it pipes after Postgres (or a relay in
    // front of it) has closed the connection surfaces as this EPIPE.
    onUnhandledError(error) {
      const e = error as { code?: string; syscall?: string; message?: string };
      if (e.code === "ECONNRESET" && e.syscall === "read") return false;
      if (e.code === "EPIPE" && e.message === "This socket has been ended by the other party") return false;
    },
  },
});
