import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["tests/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 180_000,
    // Integration suites start databases and workerd; two cores run two files at a time at most.
    maxWorkers: 2,
  },
});
