/**
 * One power message on the edge: start the tasks through the control API
 * (which answers those still to run, with their endpoints and
 * credentials), run them with the Redfish power executor within this
 * edge's limits, report progress every second (the answer says whether
 * the transition was aborted), and report the results until the control
 * plane has them.
 */

import type { RedfishCredentials } from "../../functions/node/redfish/client";
import type { RedfishPowerExecutor } from "../../functions/node/redfish/power-executor";
import type { TaskResult, TaskUpdate } from "../../functions/power/store";
import { backoffDelay } from "../../shared/backoff";
import type { Logger } from "../../shared/log";
import type { PowerWork } from "../../shared/work";
import type { ControlClient } from "../control-client";

const PROGRESS_EVERY_MS = 1000;

export interface PowerWorkDeps {
  control: ControlClient;
  executor: RedfishPowerExecutor;
  /** The executor's credential lookup reads here: filled from each job's answer. */
  credentials: Map<string, RedfishCredentials>;
  logger: Logger;
}

/** Runs `work`; resolves once its results are recorded (or there was nothing left to run). */
export async function runPowerWork(
  work: PowerWork,
  deps: PowerWorkDeps,
  stopping: AbortSignal,
): Promise<void> {
  const { control } = deps;
  const job = await control.call(
    control.api.POST("/power/v1/agent/jobs/{transitionId}", {
      params: { path: { transitionId: work.transitionId } },
      body: { taskIds: work.taskIds },
    }),
  );
  if (job.tasks.length === 0) return; // All final already: a repeat of work done.
  for (const [id, c] of Object.entries(job.credentials)) deps.credentials.set(id, c);
  const log = deps.logger.child({ transitionId: job.transitionId });
  log.info("power tasks running", { operation: job.operation, tasks: job.tasks.length });

  const controller = new AbortController();
  const abort = (why: string) => {
    if (!controller.signal.aborted) controller.abort(new Error(why));
  };
  const onStop = () => abort("the edge stopped");
  stopping.addEventListener("abort", onStop);
  if (stopping.aborted) onStop();
  if (job.abortSignaled) abort("aborted");

  const pending = new Map<string, TaskUpdate>();
  /** The report in flight: a slow control plane gets one at a time, not a queue of them. */
  let reporting: Promise<void> | undefined;
  const report = async () => {
    const updates = [...pending.values()];
    pending.clear();
    try {
      const a = await control.call(
        control.api.POST("/power/v1/agent/progress", {
          body: { updates, transitionIds: [job.transitionId] },
        }),
      );
      if (a.abortSignaled.includes(job.transitionId)) abort("aborted");
    } catch (e) {
      // Progress is best effort (kept for the next report); the results below are not.
      for (const u of updates) if (!pending.has(u.taskId)) pending.set(u.taskId, u);
      log.warn("could not report power progress", { err: (e as Error).message });
    }
  };
  const timer = setInterval(() => {
    reporting ??= report().finally(() => {
      reporting = undefined;
    });
  }, PROGRESS_EVERY_MS);

  let results: TaskResult[];
  try {
    results = await deps.executor.run(job, {
      signal: controller.signal,
      onProgress: (u) => pending.set(u.taskId, u),
    });
  } finally {
    clearInterval(timer);
    stopping.removeEventListener("abort", onStop);
    await reporting;
  }
  await reportResults(deps, job.transitionId, results, log, stopping);
}

/**
 * Results must reach the control plane: retried with backoff for as long as
 * the edge runs. An edge that stops gives up after a few tries; the message
 * then goes back to the stream and the tasks still open run again.
 */
async function reportResults(
  deps: PowerWorkDeps,
  transitionId: string,
  results: TaskResult[],
  log: Logger,
  stopping: AbortSignal,
) {
  for (let attempt = 0; ; attempt++) {
    try {
      await deps.control.call(
        deps.control.api.POST("/power/v1/agent/results", { body: { transitionId, results } }),
      );
      const counts: Record<string, number> = {};
      for (const r of results) counts[r.state] = (counts[r.state] ?? 0) + 1;
      log.info("power tasks finished", counts);
      return;
    } catch (e) {
      if (stopping.aborted && attempt >= 3) throw e;
      if (attempt === 0 || attempt % 10 === 0)
        log.warn("could not report power results; retrying", { err: (e as Error).message });
      await new Promise((r) => setTimeout(r, backoffDelay(attempt + 1, { firstMs: 500, maxMs: 10_000 })));
    }
  }
}
