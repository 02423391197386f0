/**
 * The API fuzzed from its own OpenAPI document (tests/support/fuzz.ts) on
 * the three runtimes: Node on embedded PGlite, Node on Postgres, and the
 * Worker bundle in workerd on Postgres. Every operation gets a bounded
 * number of cases from a fixed seed (CHAMICORE_FUZZ_SEED and
 * CHAMICORE_FUZZ_RUNS change them; scripts/fuzz.ts runs longer): no answer
 * may be a 5xx, every error is problem+json, and no refused request writes
 * anything. The per-runtime counts are printed.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { describeStats, type FuzzStats, fuzzTarget } from "../support/fuzz";
import { nodePgliteTarget, nodePostgresTarget, type Target, workerTarget } from "../support/targets";

const SEED = Number(process.env.CHAMICORE_FUZZ_SEED ?? 16);
/**
 * Cases per operation. workerd answers a database request in ~75 ms through
 * the local Hyperdrive (Node in a few), so it gets fewer to keep the file
 * within about two minutes on a loaded two-core machine.
 */
const RUNS = process.env.CHAMICORE_FUZZ_RUNS ? Number(process.env.CHAMICORE_FUZZ_RUNS) : undefined;
const runsOn = (name: string) => RUNS ?? (name.startsWith("workerd") ? 4 : 10);
/** Failed logins are part of the fuzz: the login throttle must not lock the fuzzer out. */
const ENV = {
  CHAMICORE_LOGIN_MAX_FAILURES_PER_CLIENT: "1000000",
  CHAMICORE_LOGIN_MAX_FAILURES_PER_ADDRESS: "1000000",
};

const summary: FuzzStats[] = [];

afterAll(() => {
  for (const s of summary)
    console.log(`fuzz (seed ${SEED}, ${runsOn(s.target)} cases per operation) ${describeStats(s)}`);
});

for (const [name, start] of [
  ["node+pglite", nodePgliteTarget],
  ["node+postgres", nodePostgresTarget],
  ["workerd+postgres", workerTarget],
] as const) {
  describe.sequential(`fuzz on ${name}`, () => {
    let target: Target;

    beforeAll(async () => {
      target = await start(ENV);
    });

    afterAll(async () => {
      await target?.stop();
    });

    it("answers every generated request below 500, errors as problem+json, refusals write nothing", {
      timeout: 150_000,
    }, async () => {
      const stats = await fuzzTarget(target, { seed: SEED, runs: runsOn(name) });
      summary.push(stats);
      expect(stats.operations).toBeGreaterThan(100);
      expect(stats.failures.slice(0, 30)).toEqual([]);
      expect(stats.serverErrors).toBe(0);
    });
  });
}
