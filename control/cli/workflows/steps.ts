/**
 * Composite commands as a list of steps run in order (`node provision`,
 * `node decommission`): each step first reads what is there, then changes
 * it or says why not. The first failure stops the run; the report keeps
 * what the earlier steps did, so an operator knows what to undo or redo.
 *
 * Exit code of a run (see exitCodeOf):
 *   0  every step done or skipped (or, with --dry-run, planned)
 *   4  a step failed after an earlier step changed something (partial)
 *   3  a step failed before anything changed, and the API said 401/403
 *   1  a step failed before anything changed (the system is as it was)
 */
import { ApiProblem } from "../../../shared/client";
import { EXIT, type ExitCode } from "../../../shared/node/cli/errors";
import type { Column } from "../../../shared/node/cli/output";

/**
 * done: changed something. skipped: nothing to do (or not run after a
 * failure). would: what --dry-run would do. failed: see `error`.
 */
export type StepStatus = "done" | "skipped" | "would" | "failed";

/** What a step's action answers: done or would (a change), or skipped (nothing to change). */
export interface StepOutcome {
  status: "done" | "skipped" | "would";
  detail: string;
}

export interface Step {
  /** Short name: `component`, `boot-params`, `cloud-init`. */
  name: string;
  /** What the step is for, in words. */
  what: string;
  /** Reads, then (unless dryRun) changes; throws on failure. */
  run(dryRun: boolean): Promise<StepOutcome>;
}

export interface StepError {
  /** HTTP status when the API answered. */
  status?: number;
  message: string;
  /** The problem's field errors, `field: message`. */
  errors?: string[];
}

export interface StepResult {
  step: string;
  what: string;
  status: StepStatus;
  detail: string;
  error?: StepError;
}

export interface StepsReport {
  command: string;
  id: string;
  dryRun: boolean;
  /** Every step done, skipped or planned. */
  ok: boolean;
  steps: StepResult[];
}

/** The error a step failed with, as the report shows it (the API's problem when there is one). */
export function stepError(e: unknown): StepError {
  if (e instanceof ApiProblem) {
    const message = `HTTP ${e.status} ${e.title}${e.detail && e.detail !== e.title ? `: ${e.detail}` : ""}`;
    return {
      status: e.status,
      message,
      ...(e.errors.length ? { errors: e.errors.map((f) => `${f.field}: ${f.message}`) } : {}),
    };
  }
  const err = e as Error & { cause?: { code?: string; message?: string } };
  if (err?.name === "TypeError" && err.message === "fetch failed")
    return {
      message: `cannot reach the control API: ${err.cause?.code ?? err.cause?.message ?? "connection failed"}`,
    };
  return { message: err?.message ?? String(e) };
}

/** The detail shown for a failed step: the error and its field errors on one line. */
export const failureText = (e: StepError) => [e.message, ...(e.errors ?? [])].join("; ");

/** Runs the steps in order; stops at the first failure and marks the rest as not run. */
export async function runSteps(
  command: string,
  id: string,
  steps: Step[],
  dryRun: boolean,
): Promise<StepsReport> {
  const results: StepResult[] = [];
  let failedAt: number | undefined;
  for (const [i, s] of steps.entries()) {
    if (failedAt !== undefined) {
      results.push({
        step: s.name,
        what: s.what,
        status: "skipped",
        detail: `not run: step ${failedAt + 1} (${steps[failedAt]!.name}) failed`,
      });
      continue;
    }
    try {
      const outcome = await s.run(dryRun);
      results.push({ step: s.name, what: s.what, ...outcome });
    } catch (e) {
      const error = stepError(e);
      results.push({ step: s.name, what: s.what, status: "failed", detail: failureText(error), error });
      failedAt = i;
    }
  }
  return { command, id, dryRun, ok: failedAt === undefined, steps: results };
}

/** 0 ok; 4 failed after a change; else 3 (401/403) or 1: nothing changed. */
export function exitCodeOf(report: Pick<StepsReport, "ok" | "steps">): ExitCode {
  if (report.ok) return EXIT.ok;
  if (report.steps.some((s) => s.status === "done")) return EXIT.partial;
  const failed = report.steps.find((s) => s.status === "failed");
  const status = failed?.error?.status;
  return status === 401 || status === 403 ? EXIT.auth : EXIT.failed;
}

/** One line under the steps table. */
export function summaryLine(report: StepsReport, verb: string): string {
  const done = report.steps.filter((s) => s.status === "done").length;
  if (report.dryRun && report.ok) {
    const would = report.steps.filter((s) => s.status === "would").length;
    return would
      ? `dry run: ${would} of ${report.steps.length} steps would change ${report.id}; nothing was changed`
      : `dry run: ${report.id} is already ${verb}; nothing would change`;
  }
  if (report.ok)
    return done
      ? `${report.id} ${verb} (${done} of ${report.steps.length} steps changed something)`
      : `${report.id} was already ${verb}; nothing changed`;
  const failed = report.steps.findIndex((s) => s.status === "failed");
  return done
    ? `partial failure: step ${failed + 1} (${report.steps[failed]!.step}) failed after ${done} step(s) changed ${report.id}; fix the cause and run the command again`
    : `step ${failed + 1} (${report.steps[failed]!.step}) failed; nothing was changed`;
}

export const STEP_COLUMNS: Column[] = [
  ["#", (r) => (r as StepResult & { n: number }).n],
  ["STEP", (r) => (r as StepResult).step],
  ["WHAT", (r) => (r as StepResult).what],
  ["STATUS", (r) => (r as StepResult).status],
  ["DETAIL", (r) => (r as StepResult).detail],
];
