/**
 * Power task results as a Prometheus counter, counted where results are
 * recorded: the agent API (edges) and the control plane's own agent. One
 * counter per registry, so both paths add to the same series.
 */
import { Counter, type Registry } from "../../shared/metrics";

/** The states an agent reports a task ended in (agent.ts, AgentResultsSchema). */
const RESULT_STATES = ["succeeded", "failed", "aborted"] as const;

const counters = new WeakMap<Registry, Counter>();

/** The registry's counter, made with every state at 0 (an alert on "failed" then has a series to read). */
export function powerTaskResults(registry: Registry): Counter {
  let c = counters.get(registry);
  if (!c) {
    c = registry.register(
      new Counter("chamicore_power_task_results_total", "Power tasks an agent finished, by final state."),
    );
    for (const state of RESULT_STATES) c.inc({ state }, 0);
    counters.set(registry, c);
  }
  return c;
}

/** Counts `results` by final state. */
export function countTaskResults(registry: Registry, results: readonly { state: string }[]): void {
  const c = powerTaskResults(registry);
  for (const r of results) c.inc({ state: r.state });
}
