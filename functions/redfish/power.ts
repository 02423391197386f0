/**
 * The power engine: runs power tasks (one operation on one ComputerSystem)
 * against BMCs, and says per task whether the system reached the state
 * asked for.
 *
 * Per task: read the system; pick the ResetType(s) its BMC allows
 * (`./reset-types`); skip a step whose state the system is already in;
 * POST the Reset; poll PowerState every `pollMs` until it is there or
 * `deadlineMs` has passed since that Reset.
 *
 * Restarts: many BMCs keep PowerState On through a warm reset
 * (ForceRestart, GracefulRestart), and one that does drop power may come
 * back between two polls, so "seen going off, then On" cannot be required.
 * A restart succeeds at a poll that reads On after either
 * - PowerState was seen other than On since the Reset, or
 * - the system's `LastResetTime` changed since the Reset (when it has one), or
 * - nothing else can tell: the system has no `LastResetTime`. This lenient
 *   case is said in the message ("On (no power-off seen)"), and cannot
 *   catch a BMC that accepts the Reset and does nothing.
 * With a `LastResetTime` that never changes and power never seen off, the
 * task fails at the deadline.
 *
 * Limits: at most `concurrency` requests in flight across all BMCs, and at
 * most `perBmc` tasks at once on one BMC (by `bmc.key`), because BMCs are
 * small computers that fail under parallel load. A task is "started" once
 * it sent its first request; started tasks get request slots before tasks
 * not yet started, so a long batch does not slow every verification down.
 *
 * Abort (`signal`): tasks not started end `aborted` having sent nothing;
 * started tasks stop at once except for a Reset POST already in flight, and
 * say what was done ("aborted while verifying ForceOff ..."). No request
 * starts after the abort.
 */

import { abortableSleep } from "../../shared/sleeper";
import { RedfishHttpError, RedfishMalformed, RedfishUnreachable } from "./errors";
import { Limiter } from "./limiter";
import { type PowerOperation, planReset, type ResetStep } from "./reset-types";

export type { PowerOperation } from "./reset-types";

/** What the engine needs of a BMC client; `RedfishClient` fits. */
export interface PowerClient {
  get<T = unknown>(path: string, options?: { signal?: AbortSignal }): Promise<T>;
  post(path: string, body: unknown): Promise<unknown>;
}

export interface PowerTask {
  id: string;
  xname: string;
  bmc: {
    /** Identifies the BMC for the per-BMC limit, e.g. its address. */
    key: string;
    client: PowerClient;
  };
  /** The ComputerSystem; default the first member of /redfish/v1/Systems. */
  systemPath?: string;
  operation: PowerOperation;
}

export type PowerOutcome = "succeeded" | "failed" | "aborted";

export interface PowerUpdate {
  state: "in-progress" | PowerOutcome;
  message: string;
  /** The last PowerState read, when one was. */
  powerState?: string;
}

export interface PowerResult {
  id: string;
  xname: string;
  state: PowerOutcome;
  message: string;
  powerState?: string;
  /** The ResetTypes posted, in order. */
  resetTypes: string[];
}

/** Time, injectable so tests of the logic need not wait. */
export interface PowerClock {
  now(): number;
  /** Resolves after `ms`, or early when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export interface PowerOptions {
  /** Requests in flight across all BMCs. Default 20. */
  concurrency?: number;
  /** Tasks at once on one BMC. Default 1. */
  perBmc?: number;
  /**
   * Limits shared with other runs (replacing `concurrency` and `perBmc`), so
   * that runs going on at once stay within them together: an agent running
   * several transitions, two of which touch the same BMC.
   */
  limits?: PowerLimits;
  /** How long each Reset may take to show in PowerState. Default 2 min. */
  deadlineMs?: number;
  /** Time between two reads of PowerState. Default 2 s. */
  pollMs?: number;
  signal?: AbortSignal;
  /** Called with every change of a task; must not throw. */
  onProgress?: (taskId: string, update: PowerUpdate) => void;
  clock?: PowerClock;
}

const SYSTEMS = "/redfish/v1/Systems";

/** Runs all tasks; resolves with one result per task, in the order given. Never rejects for a task's failure. */
export async function runPowerTasks(
  tasks: readonly PowerTask[],
  options: PowerOptions = {},
): Promise<PowerResult[]> {
  const limits = options.limits ?? new PowerLimits(options.concurrency ?? 20, options.perBmc ?? 1);
  const ctx: Context = {
    requests: limits.requests,
    signal: options.signal,
    deadlineMs: options.deadlineMs ?? 120_000,
    pollMs: options.pollMs ?? 2_000,
    clock: options.clock ?? realClock,
    progress: (id, update) => {
      try {
        options.onProgress?.(id, update);
      } catch {
        // A failing observer must not change the outcome of a power operation.
      }
    },
  };
  return Promise.all(
    tasks.map(async (task) => {
      const slot = limits.bmc(task.bmc.key);
      const run = new TaskRun(task, ctx);
      try {
        await slot.acquire({ signal: ctx.signal });
      } catch {
        return run.finish("aborted", "aborted before start");
      }
      try {
        return await run.execute();
      } finally {
        slot.release();
      }
    }),
  );
}

/**
 * The engine's limits: requests in flight across all BMCs, and tasks at
 * once per BMC (by `bmc.key`). One per run unless given in `limits`. It
 * keeps one small limiter per BMC key it has seen.
 */
export class PowerLimits {
  readonly requests: Limiter;
  private readonly bmcs = new Map<string, Limiter>();

  constructor(
    concurrency = 20,
    readonly perBmc = 1,
  ) {
    this.requests = new Limiter(concurrency);
  }

  /** The limiter of tasks on the BMC with this key. */
  bmc(key: string): Limiter {
    let slot = this.bmcs.get(key);
    if (!slot) {
      slot = new Limiter(this.perBmc);
      this.bmcs.set(key, slot);
    }
    return slot;
  }
}

interface Context {
  requests: Limiter;
  signal: AbortSignal | undefined;
  deadlineMs: number;
  pollMs: number;
  clock: PowerClock;
  progress: (taskId: string, update: PowerUpdate) => void;
}

/** Thrown inside a task when the run is aborted; never escapes the engine. */
class Aborted extends Error {}

interface ResetAction {
  target?: string;
  "ResetType@Redfish.AllowableValues"?: unknown;
  "@Redfish.ActionInfo"?: string;
}

interface ComputerSystem {
  PowerState?: string;
  LastResetTime?: string;
  Actions?: { "#ComputerSystem.Reset"?: ResetAction };
}

class TaskRun {
  private started = false;
  private readonly resetTypes: string[] = [];
  private powerState: string | undefined;
  private lastResetTime: string | undefined;
  /** The step whose Reset was sent and is being verified, for the abort message. */
  private verifying: ResetStep | undefined;

  constructor(
    private readonly task: PowerTask,
    private readonly ctx: Context,
  ) {}

  async execute(): Promise<PowerResult> {
    try {
      return await this.steps();
    } catch (e) {
      if (e instanceof Aborted || (this.ctx.signal?.aborted && !this.started))
        return this.finish("aborted", this.abortMessage());
      return this.finish("failed", (e as Error).message);
    }
  }

  finish(state: PowerOutcome, message: string): PowerResult {
    this.ctx.progress(this.task.id, { state, message, ...this.known() });
    return {
      id: this.task.id,
      xname: this.task.xname,
      state,
      message,
      ...this.known(),
      resetTypes: [...this.resetTypes],
    };
  }

  private async steps(): Promise<PowerResult> {
    const { task } = this;
    const systemPath = task.systemPath ?? (await this.firstSystem());
    const system = await this.read<ComputerSystem>(systemPath);
    this.observe(system);
    const action = system.Actions?.["#ComputerSystem.Reset"];
    const target = action?.target ?? `${systemPath}/Actions/ComputerSystem.Reset`;
    const plan = planReset(task.operation, await this.allowable(action));
    if (!plan.ok) return this.finish("failed", plan.reason);

    const said: string[] = [];
    for (const step of plan.steps) {
      if (step.expect !== "restart" && this.powerState === step.expect) {
        said.push(`already ${step.expect}`);
        continue;
      }
      if (this.ctx.signal?.aborted) throw new Aborted();
      this.report(`sending ${step.resetType}`);
      await this.send(() => task.bmc.client.post(target, { ResetType: step.resetType }));
      this.resetTypes.push(step.resetType);
      this.verifying = step;
      this.report(
        `${step.resetType} sent, waiting for ${step.expect === "restart" ? "the restart" : step.expect}`,
      );
      const verdict = await this.verify(systemPath, step);
      this.verifying = undefined;
      if (!verdict.ok) return this.finish("failed", verdict.reason);
      said.push(verdict.said);
    }
    return this.finish("succeeded", said.join(", then "));
  }

  /** Polls PowerState until the step's target, or its deadline. */
  private async verify(systemPath: string, step: ResetStep): Promise<{ ok: true; said: string } | Failed> {
    const { clock, pollMs, deadlineMs, signal } = this.ctx;
    const deadline = clock.now() + deadlineMs;
    const resetTimeBefore = this.lastResetTime;
    let wentDown = false;
    let lastError: string | undefined;
    for (;;) {
      await clock.sleep(Math.max(0, Math.min(pollMs, deadline - clock.now())), signal);
      if (signal?.aborted) throw new Aborted();
      try {
        this.observe(await this.read<ComputerSystem>(systemPath));
        lastError = undefined;
      } catch (e) {
        // A BMC busy with a power change may answer badly for a while: keep
        // polling until the deadline. Credentials or a vanished system will not heal.
        if (
          !(e instanceof RedfishUnreachable || e instanceof RedfishHttpError || e instanceof RedfishMalformed)
        )
          throw e;
        lastError = e.message;
      }
      if (lastError === undefined) {
        if (step.expect !== "restart") {
          if (this.powerState === step.expect) return { ok: true, said: `${step.resetType}: ${step.expect}` };
        } else if (this.powerState === "On") {
          const resetSeen = this.lastResetTime !== resetTimeBefore;
          if (wentDown) return { ok: true, said: `${step.resetType}: went off and came back On` };
          if (resetSeen) return { ok: true, said: `${step.resetType}: On, reset at ${this.lastResetTime}` };
          if (resetTimeBefore === undefined)
            return { ok: true, said: `${step.resetType}: On (no power-off seen)` };
        } else if (this.powerState !== undefined) wentDown = true;
      }
      if (clock.now() >= deadline) return { ok: false, reason: this.missed(step, lastError) };
    }
  }

  private missed(step: ResetStep, lastError: string | undefined): string {
    const within = formatDuration(this.ctx.deadlineMs);
    let what = `did not reach ${step.expect} within ${within}`;
    let last = `last PowerState: ${this.powerState ?? "unknown"}`;
    if (step.expect === "restart" && this.powerState === "On") {
      what = `did not restart within ${within} after ${step.resetType}`;
      last = `PowerState stayed On, LastResetTime unchanged`;
    } else if (step.expect === "restart")
      what = `did not come back On within ${within} after ${step.resetType}`;
    return `${what} (${last}${lastError ? `; last read failed: ${lastError}` : ""})`;
  }

  private observe(system: ComputerSystem) {
    this.powerState = system.PowerState;
    this.lastResetTime = system.LastResetTime;
  }

  private async firstSystem(): Promise<string> {
    const systems = await this.read<{ Members?: { "@odata.id"?: string }[] }>(SYSTEMS);
    const first = systems.Members?.[0]?.["@odata.id"];
    if (!first) throw new Error(`no ComputerSystem under ${SYSTEMS}`);
    return first;
  }

  /** The AllowableValues, inline or from the action's ActionInfo; undefined when the BMC does not say. */
  private async allowable(action: ResetAction | undefined): Promise<string[] | undefined> {
    const inline = action?.["ResetType@Redfish.AllowableValues"];
    if (Array.isArray(inline)) return inline.filter((v): v is string => typeof v === "string");
    const info = action?.["@Redfish.ActionInfo"];
    if (!info) return undefined;
    try {
      const doc = await this.read<{ Parameters?: { Name?: string; AllowableValues?: unknown }[] }>(info);
      const values = doc.Parameters?.find((p) => p.Name === "ResetType")?.AllowableValues;
      return Array.isArray(values) ? values.filter((v): v is string => typeof v === "string") : undefined;
    } catch (e) {
      if (e instanceof Aborted) throw e;
      // An unreadable ActionInfo is the same as none: try the first preference.
      return undefined;
    }
  }

  /** A GET under the global request limit; aborting drops it. */
  private read<T>(path: string): Promise<T> {
    return this.request(() => this.task.bmc.client.get<T>(path, { signal: this.ctx.signal }), true);
  }

  /** A request that changes something: once sent, an abort lets it finish, since its effect is unknown otherwise. */
  private send(fn: () => Promise<unknown>): Promise<unknown> {
    return this.request(fn, false);
  }

  private async request<T>(fn: () => Promise<T>, interruptible: boolean): Promise<T> {
    const { requests, signal } = this.ctx;
    try {
      await requests.acquire({ urgent: this.started, signal });
    } catch {
      throw new Aborted();
    }
    try {
      // The slot may have been granted in the same turn as the abort.
      if (signal?.aborted) throw new Aborted();
      if (!this.started) {
        this.started = true;
        this.report("reading the system");
      }
      return await fn();
    } catch (e) {
      if (interruptible && signal?.aborted) throw new Aborted();
      throw e;
    } finally {
      requests.release();
    }
  }

  private report(message: string) {
    this.ctx.progress(this.task.id, { state: "in-progress", message, ...this.known() });
  }

  private abortMessage(): string {
    const last = this.powerState === undefined ? "" : ` (last PowerState: ${this.powerState})`;
    if (!this.started) return "aborted before start";
    if (this.verifying) return `aborted while verifying ${this.verifying.resetType}${last}`;
    if (this.resetTypes.length > 0)
      return `aborted after ${this.resetTypes.join(", ")}, before the next Reset was sent${last}`;
    return `aborted before any Reset was sent${last}`;
  }

  private known(): { powerState?: string } {
    return this.powerState === undefined ? {} : { powerState: this.powerState };
  }
}

type Failed = { ok: false; reason: string };

/** `120000` → `2 min`, `1500` → `1.5 s`, `300` → `300 ms`. */
export function formatDuration(ms: number): string {
  const trim = (n: number) => String(Number(n.toFixed(1)));
  if (ms < 1_000) return `${ms} ms`;
  if (ms < 60_000) return `${trim(ms / 1_000)} s`;
  return `${trim(ms / 60_000)} min`;
}

const realClock: PowerClock = {
  now: () => performance.now(),
  sleep: abortableSleep,
};
