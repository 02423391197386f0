import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    reporters: ["default", "./tests/support/summary-reporter.ts"],
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
