/**
 * What runs power tasks: the Redfish executor
 * (functions/node/redfish/power-executor.ts), in the control plane's own agent
 * for BMCs without a site and in an edge's agent for its site's BMCs
 * (edge-node/agent/power-work.ts).
 */
import type { BmcEndpoint, PowerOperation } from "./schemas";
import type { TaskResult, TaskUpdate } from "./store";

/** One node of a job. `bmc` is null when its endpoint was deleted after the transition was created. */
export interface PowerJobTask {
  id: string;
  xname: string;
  bmcId: string | null;
  bmc: BmcEndpoint | null;
}

/** The claimed tasks of one transition. */
export interface PowerJob {
  transitionId: string;
  operation: PowerOperation;
  /** How long each Reset may take to show in PowerState (from taskDeadlineMinutes). */
  deadlineMs: number;
  tasks: PowerJobTask[];
}

export interface PowerExecutor {
  /**
   * Runs every task of `job`; resolves with one final result per task, and
   * never rejects for a task's failure. Progress goes to `onProgress`
   * (which must not throw). When `signal` aborts, tasks not started end
   * `aborted` and started ones stop as soon as that is safe.
   */
  run(
    job: PowerJob,
    opts: { signal: AbortSignal; onProgress: (update: TaskUpdate) => void },
  ): Promise<TaskResult[]>;
}
