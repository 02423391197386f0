/**
 * Following a power transition until it is final (`power transition wait`,
 * `power on|off|… --wait`): what the progress line says, when to stop, and
 * which exit code the per-node results give; the polling is ./follow.ts.
 */
import type { Schemas } from "../../../shared/client";
import { EXIT, type ExitCode } from "../../../shared/node/cli/errors";
import { followUntilFinal } from "./follow";

export type Transition = Schemas["Transition"];
export type TransitionSpec = Schemas["TransitionSpec"];
export type PowerTask = Schemas["PowerTask"];

/** Transition states after which nothing changes any more. */
export const FINAL_STATES: readonly TransitionSpec["state"][] = ["completed", "aborted"];

export const isFinal = (s: Pick<TransitionSpec, "state">) => FINAL_STATES.includes(s.state);

/** `3/20 done, 1 failed, 2 aborted`: final tasks (planned ones count: a dry run is done) of all. */
export function progressText(spec: Pick<TransitionSpec, "taskCounts">): string {
  const c = spec.taskCounts;
  const done = c.succeeded + c.failed + c.aborted + c.planned;
  const parts = [`${done}/${c.total} done`];
  if (c.failed) parts.push(`${c.failed} failed`);
  if (c.aborted) parts.push(`${c.aborted} aborted`);
  return parts.join(", ");
}

/**
 * The exit code of a final transition: 0 when every task succeeded (or, in
 * a dry run, was planned), 4 (partial failure) when some failed or were
 * aborted.
 */
export function exitOf(spec: Pick<TransitionSpec, "taskCounts">): ExitCode {
  const c = spec.taskCounts;
  return c.failed + c.aborted > 0 ? EXIT.partial : EXIT.ok;
}

/** One line naming the tasks that did not succeed, for stderr after the results. */
export function failureSummary(spec: TransitionSpec): string[] {
  return (spec.tasks ?? [])
    .filter((t) => t.state === "failed" || t.state === "aborted")
    .map((t) => `${t.xname}: ${t.state}: ${t.message}`);
}

export interface WaitOptions {
  /** Reads the transition with its tasks. */
  fetch: () => Promise<Transition>;
  /** Called with each new progress text (not called again while it is unchanged). */
  progress: (text: string, spec: TransitionSpec) => void;
  /** Seconds before giving up; 0 or undefined: no limit. */
  timeoutS?: number;
  intervalMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export type WaitResult = { final: true; transition: Transition } | { final: false; transition: Transition };

/** Polls until the transition is final, or the timeout passes (then `final: false` with the last read). */
export async function waitForTransition(o: WaitOptions): Promise<WaitResult> {
  const { final, last } = await followUntilFinal({
    ...o,
    describe: (t) => `${progressText(t.spec)} (${t.spec.state})`,
    isFinal: (t) => isFinal(t.spec),
    progress: (text, t) => o.progress(text, t.spec),
  });
  return { final, transition: last };
}
