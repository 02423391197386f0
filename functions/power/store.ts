/**
 * The power service's store ports. `PowerStore` is what the handlers need;
 * `PowerQueue` is what an agent that executes tasks needs (the control
 * plane's in-process agent, and the dispatcher and agent endpoints that
 * hand tasks of a site to its edges). The control plane implements both
 * over Postgres (control/stores/power/).
 *
 * Writes throw `ApiError`s naming the field and write their change events
 * (`chamicore.power.bmcs.*`, `chamicore.power.transitions.*`) in the same
 * transaction.
 */
import type { Stored } from "../../shared/envelope";
import type { ListQuery } from "../../shared/list-query";
import type { Page } from "../inventory/store";
import type { BmcEndpoint, PowerOperation, PowerStatus, TaskState, Transition } from "./schemas";

/** What resolution needs to know about one asked-for component (see ./resolve.ts). */
export interface PowerTarget {
  id: string;
  type: string;
  parent: { id: string; type: string } | null;
  /** The parent's BMC endpoint, when it has one. */
  endpoint: { id: string; site: string | null; credentialId: string; address: string } | null;
  /** Whether the endpoint's credential exists. */
  credentialExists: boolean;
}

/** A task as resolution leaves it, before it is stored. */
export interface NewTask {
  xname: string;
  bmcId: string | null;
  state: Extract<TaskState, "new" | "planned" | "failed">;
  message: string;
  site: string | null;
}

export interface NewTransition {
  id: string;
  operation: PowerOperation;
  taskDeadlineMinutes: number;
  dryRun: boolean;
  requestedBy: string;
  /** By when an agent must have taken the `new` tasks (see `taskBudgetMs`). */
  deadlineAt: Date;
}

export interface PowerStatusQuery {
  xnames?: string[];
  group?: string;
  powerStates?: string[];
  /** By xname, descending. */
  desc?: boolean;
  limit: number;
  offset: number;
}

export interface PowerStore {
  listBmcs(q: ListQuery): Promise<Page<BmcEndpoint>>;
  getBmc(id: string): Promise<Stored<BmcEndpoint> | undefined>;
  /** 409 when the id exists; 422 when the component is missing or no NodeBMC, or the credential is missing. */
  createBmc(b: BmcEndpoint): Promise<Stored<BmcEndpoint>>;
  /** Replaces the endpoint whose stored etag is `ifMatch` (412 otherwise, 404 when absent). */
  updateBmc(b: BmcEndpoint, ifMatch: string): Promise<Stored<BmcEndpoint>>;
  deleteBmc(id: string): Promise<void>;

  /** The asked-for components that exist (any order), with their parent, endpoint and credential. */
  targets(ids: string[]): Promise<PowerTarget[]>;
  /**
   * Stores a transition and its tasks in the order given. A transition whose
   * tasks are all final at once (a dry run, nothing resolvable) is stored
   * `completed`.
   */
  createTransition(t: NewTransition, tasks: NewTask[]): Promise<Stored<Transition>>;
  /** Transitions with their task counts (no tasks). Filters: state, operation. */
  listTransitions(q: ListQuery): Promise<Page<Transition>>;
  /** With its tasks. */
  getTransition(id: string): Promise<Stored<Transition> | undefined>;
  /**
   * Abort: tasks not started end `aborted`; with tasks still running the
   * transition is `abort-signaled` (their agent stops them), else `aborted`.
   * Asking again while abort-signaled changes nothing. 404 when absent, 409
   * when completed or aborted.
   */
  abortTransition(id: string): Promise<Stored<Transition>>;
  powerStatus(q: PowerStatusQuery): Promise<{ rows: PowerStatus[]; total: number }>;
}

/** One claimed task with what executing it needs. */
export interface ClaimedTask {
  id: string;
  xname: string;
  /** The endpoint as it is now; null when it was deleted since the transition was created. */
  bmc: BmcEndpoint | null;
  bmcId: string | null;
}

/** The claimed tasks of one transition. */
export interface ClaimedJob {
  transitionId: string;
  operation: PowerOperation;
  taskDeadlineMinutes: number;
  tasks: ClaimedTask[];
  /** The W3C traceparent of the request that made the transition, when it was traced. */
  traceparent?: string;
}

export interface TaskUpdate {
  taskId: string;
  message: string;
  powerState?: string | undefined;
}

export interface TaskResult extends TaskUpdate {
  state: Extract<TaskState, "succeeded" | "failed" | "aborted">;
}

/** The queue of tasks to execute, for agents. */
export interface PowerQueue {
  /**
   * Marks up to `limit` `new` tasks of `site` (null: the control plane's
   * own) `in-progress`, with `deadlineAt(job)` as their deadline, and hands
   * them out grouped by transition. Tasks claimed by a concurrent agent are
   * skipped. Transitions still `new` become `in-progress`.
   */
  claim(
    site: string | null,
    limit: number,
    deadlineAt: (job: { operation: PowerOperation; taskDeadlineMinutes: number }) => Date,
  ): Promise<ClaimedJob[]>;
  /**
   * The sites (never null) with tasks `new` or `in-progress` in transitions
   * still running: where a dispatcher has work to hand out or overdue tasks
   * to sweep.
   */
  activeSites(): Promise<string[]>;
  /** Puts claimed tasks that are still `in-progress` back to `new` (their hand-off failed). */
  release(taskIds: string[]): Promise<void>;
  /**
   * An agent starts (or, after a re-delivery, restarts) claimed tasks of a
   * transition: those of `taskIds` still `in-progress` come back with their
   * endpoints as they are now, with `deadlineAt(job)` as their new deadline;
   * final ones are left out. Undefined when the transition does not exist.
   */
  lease(
    transitionId: string,
    taskIds: string[],
    deadlineAt: (job: { operation: PowerOperation; taskDeadlineMinutes: number }) => Date,
  ): Promise<ClaimedJob | undefined>;
  /** Progress of running tasks (ignored for tasks already final). */
  progress(updates: TaskUpdate[]): Promise<void>;
  /**
   * Final results (ignored for tasks already final); a transition with no
   * task left to run becomes `completed`, or `aborted` when abort-signaled.
   */
  finish(results: TaskResult[]): Promise<void>;
  /** Which of these transitions are `abort-signaled`. */
  abortSignaled(transitionIds: string[]): Promise<string[]>;
  /**
   * Fails tasks past their deadline that no agent holds: `in-progress` tasks
   * of `site` not in `running` (left by a process that stopped), and `new`
   * tasks of any site no agent claimed. With `unclaimedOnly`, only the
   * latter (for a caller that cannot know which tasks are held). Returns how many.
   */
  failOverdue(
    site: string | null,
    running: ReadonlySet<string>,
    now: Date,
    opts?: { unclaimedOnly?: boolean },
  ): Promise<number>;
}
