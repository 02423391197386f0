/**
 * The control plane's own power agent (`chamicore serve`): runs the tasks
 * whose BMC has no site, i.e. BMCs the control plane itself can reach.
 *
 * Every `pollMs` (250 ms), and at once when woken (a transition was created
 * or an abort asked for in this process), it:
 * - flushes the progress of running tasks to their rows;
 * - aborts the jobs of transitions that became `abort-signaled`;
 * - claims `new` tasks and runs each transition's share as one job on the
 *   executor, in the background;
 * - now and then (and at start), fails tasks past their deadline that no
 *   running job holds: those left `in-progress` by a process that stopped
 *   ("agent restarted; state unknown"), and `new` ones nobody took.
 *
 * A job's results are written once it ends; on a verified success the
 * node's inventory state becomes On or Off through the inventory's write
 * path, so its change event follows. Stopping aborts running jobs and
 * records what they did.
 */
import type { InventoryStore } from "../../functions/inventory/store";
import type { PowerExecutor, PowerJob } from "../../functions/power/executor";
import { countTaskResults, powerTaskResults } from "../../functions/power/metrics";
import { budgetFromNow } from "../../functions/power/resolve";
import { recordPowerState } from "../../functions/power/service";
import type { ClaimedJob, PowerQueue, TaskResult, TaskUpdate } from "../../functions/power/store";
import { backoffDelay } from "../../shared/backoff";
import { errorFields } from "../../shared/error-fields";
import type { Logger } from "../../shared/log";
import type { Registry } from "../../shared/metrics";
import { forCauses, SpanKind } from "../../shared/tracing";
import { powerWorkAttributes } from "../../shared/work";
import { PollingLoop } from "./polling-loop";

export interface PowerAgentOptions {
  queue: PowerQueue;
  /** Where task results are counted (chamicore_power_task_results_total). */
  registry?: Registry;
  inventory: InventoryStore;
  executor: PowerExecutor;
  logger: Logger;
  /** Time between two looks at the queue. Default 250 ms. */
  pollMs?: number;
  /** Tasks claimed at once. Default 1000. */
  batch?: number;
  /** Time between two sweeps for overdue tasks. Default 10 s. */
  sweepMs?: number;
}

interface Run {
  transitionId: string;
  controller: AbortController;
  done: Promise<void>;
}

/** Why a job was aborted when the agent stops, prefixed to its tasks' messages. */
const STOPPING = "the control plane stopped";

export class PowerAgent {
  private readonly runs = new Set<Run>();
  /** Ids of the tasks that a job of this agent holds. */
  private readonly holding = new Set<string>();
  private readonly progress = new Map<string, TaskUpdate>();
  private lastSweep = 0;
  private readonly loop: PollingLoop;

  constructor(private readonly o: PowerAgentOptions) {
    if (o.registry) powerTaskResults(o.registry);
    this.loop = new PollingLoop({
      name: "power agent",
      pollMs: this.o.pollMs ?? 250,
      logger: o.logger,
      round: () => this.tick(),
    });
  }

  start(): void {
    this.loop.start();
  }

  /** There is work (or an abort): look at once. */
  wake(): void {
    this.loop.wake();
  }

  /** Stops claiming, aborts running jobs, and waits until their results are written. */
  async stop(): Promise<void> {
    await this.loop.stop();
    for (const r of this.runs) r.controller.abort(new Error(STOPPING));
    await Promise.all([...this.runs].map((r) => r.done));
    await this.flushProgress().catch(() => {});
  }

  private async tick() {
    await this.flushProgress();
    await this.checkAborts();
    const now = Date.now();
    if (now - this.lastSweep >= (this.o.sweepMs ?? 10_000)) {
      this.lastSweep = now;
      const failed = await this.o.queue.failOverdue(null, this.holding, new Date(now));
      if (failed > 0) this.o.logger.warn("power tasks failed past their deadline", { count: failed });
    }
    if (this.loop.stopped) return;
    const jobs = await this.o.queue.claim(null, this.o.batch ?? 1000, budgetFromNow);
    for (const job of jobs) this.begin(job);
  }

  private async checkAborts() {
    if (this.runs.size === 0) return;
    const signaled = new Set(
      await this.o.queue.abortSignaled([...new Set([...this.runs].map((r) => r.transitionId))]),
    );
    for (const r of this.runs)
      if (signaled.has(r.transitionId) && !r.controller.signal.aborted) {
        this.o.logger.info("power transition aborting", { transitionId: r.transitionId });
        r.controller.abort(new Error("aborted"));
      }
  }

  private begin(claimed: ClaimedJob) {
    const job: PowerJob = {
      transitionId: claimed.transitionId,
      operation: claimed.operation,
      deadlineMs: claimed.taskDeadlineMinutes * 60_000,
      tasks: claimed.tasks,
    };
    for (const t of job.tasks) this.holding.add(t.id);
    const controller = new AbortController();
    const run: Run = { transitionId: job.transitionId, controller, done: Promise.resolve() };
    // A transition made by a traced request is run in a span of its trace, each BMC request under it.
    run.done = forCauses(
      claimed.traceparent ? [claimed.traceparent] : [],
      "chamicore.work.run",
      powerWorkAttributes(job.transitionId, job.tasks.length),
      () => this.execute(job, controller.signal),
      SpanKind.INTERNAL,
    ).finally(() => {
      this.runs.delete(run);
      for (const t of job.tasks) this.holding.delete(t.id);
    });
    this.runs.add(run);
    this.o.logger.info("power transition running", {
      transitionId: job.transitionId,
      operation: job.operation,
      tasks: job.tasks.length,
    });
  }

  private async execute(job: PowerJob, signal: AbortSignal) {
    let results: TaskResult[];
    try {
      results = await this.o.executor.run(job, {
        signal,
        onProgress: (u) => this.progress.set(u.taskId, u),
      });
    } catch (e) {
      // Executors do not reject for a task's failure; this is a bug or a lost dependency.
      const message = `the executor failed: ${(e as Error).message}`;
      results = job.tasks.map((t) => ({ taskId: t.id, state: "failed", message }));
    }
    for (const t of job.tasks) this.progress.delete(t.id);
    if (this.loop.stopped && signal.aborted)
      results = results.map((r) =>
        r.state === "aborted" ? { ...r, message: `${STOPPING}: ${r.message}` } : r,
      );
    const xnames = new Map(job.tasks.map((t) => [t.id, t.xname]));
    for (const r of results) {
      if (r.state !== "succeeded") continue;
      const xname = xnames.get(r.taskId)!;
      try {
        await recordPowerState(this.o.inventory, xname, job.operation);
      } catch (e) {
        this.o.logger.warn("could not record a node's power state in the inventory", {
          xname,
          ...errorFields(e),
        });
      }
    }
    await this.writeResults(job, results);
  }

  /** Final results must not be lost to a passing database error: retried for a while. */
  private async writeResults(job: PowerJob, results: TaskResult[]) {
    for (let attempt = 0; ; attempt++) {
      try {
        await this.o.queue.finish(results);
        if (this.o.registry) countTaskResults(this.o.registry, results);
        const counts: Record<string, number> = {};
        for (const r of results) counts[r.state] = (counts[r.state] ?? 0) + 1;
        this.o.logger.info("power transition tasks finished", { transitionId: job.transitionId, ...counts });
        return;
      } catch (e) {
        if (attempt >= 5) {
          this.o.logger.error("could not record power task results; they will fail at their deadline", {
            transitionId: job.transitionId,
            ...errorFields(e),
          });
          return;
        }
        await new Promise((r) => setTimeout(r, backoffDelay(attempt + 1, { firstMs: 200 })));
      }
    }
  }

  private async flushProgress() {
    if (this.progress.size === 0) return;
    const updates = [...this.progress.values()];
    this.progress.clear();
    await this.o.queue.progress(updates);
  }
}
