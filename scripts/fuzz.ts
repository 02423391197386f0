/**
 * A longer fuzz run than the test suite's (tests/integration/fuzz.test.ts):
 * every operation of the served OpenAPI document, with cases generated from
 * its schemas and hostile values mixed in, against each runtime. Needs the
 * test Postgres (127.0.0.1:5432) for the Postgres and workerd runtimes.
 * Exits 1 when any answer was a 5xx, an error was not problem+json, or a
 * refused request wrote something; prints the first failures.
 *
 *   npm run fuzz                                          # seed from the clock, 50 cases per operation
 *   FUZZ_SEED=16 FUZZ_RUNS=200 npm run fuzz               # replay a seed, longer
 *   FUZZ_TARGETS=node+pglite FUZZ_RUNS=20 npm run fuzz    # one runtime
 */
import { describeStats, fuzzTarget } from "../tests/support/fuzz";
import { nodePgliteTarget, nodePostgresTarget, type Target, workerTarget } from "../tests/support/targets";

const STARTERS: Record<string, (env: Record<string, string>) => Promise<Target>> = {
  "node+pglite": nodePgliteTarget,
  "node+postgres": nodePostgresTarget,
  "workerd+postgres": workerTarget,
};

const seed = Number(process.env.FUZZ_SEED ?? Date.now() % 1_000_000);
const runs = Number(process.env.FUZZ_RUNS ?? 50);
const names = (process.env.FUZZ_TARGETS ?? Object.keys(STARTERS).join(",")).split(",").map((s) => s.trim());
for (const n of names)
  if (!STARTERS[n])
    throw new Error(`FUZZ_TARGETS: unknown runtime ${n}; choose among ${Object.keys(STARTERS).join(", ")}`);

console.log(`fuzz: seed ${seed}, ${runs} cases per operation, on ${names.join(", ")}`);
let failed = false;
for (const name of names) {
  const target = await STARTERS[name]!({
    CHAMICORE_LOGIN_MAX_FAILURES_PER_CLIENT: "1000000",
    CHAMICORE_LOGIN_MAX_FAILURES_PER_ADDRESS: "1000000",
  });
  try {
    const stats = await fuzzTarget(target, {
      seed,
      runs,
      log: process.env.FUZZ_VERBOSE ? (l) => console.log(l) : undefined,
    });
    console.log(describeStats(stats));
    if (stats.failures.length) {
      failed = true;
      console.log(`${stats.failures.length} failures; the first ones:`);
      for (const f of stats.failures.slice(0, 40)) console.log(`  ${f}`);
    }
  } finally {
    await target.stop();
  }
}
process.exit(failed ? 1 : 0);
