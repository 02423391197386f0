/**
 * Prints one plain closing line, `N passed, N failed, N skipped`, after
 * vitest's own summary, so that CI logs end with a count any tool can read.
 */
import type { Reporter, TestModule } from "vitest/node";

export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>) {
    let passed = 0;
    let failed = 0;
    let skipped = 0;
    // A file that does not load, or a failing hook, fails the run without failing a test: count it.
    let broken = unhandledErrors.length;
    for (const m of testModules) {
      if (m.errors().length > 0) broken++;
      for (const t of m.children.allTests()) {
        const state = t.result().state;
        if (state === "passed") passed++;
        else if (state === "failed") failed++;
        else skipped++;
      }
    }
    const extra = broken > 0 ? `, ${broken} file or hook error(s)` : "";
    process.stdout.write(`\n${passed} passed, ${failed} failed, ${skipped} skipped${extra}\n`);
  }
}
