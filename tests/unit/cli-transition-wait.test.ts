/**
 * The rules of `power transition wait` (control/cli/workflows/transition-wait.ts):
 * the progress text, the exit code of the per-node results, and the polling
 * loop's stop conditions, on a fake clock.
 */
import { describe, expect, it } from "vitest";
import {
  exitOf,
  failureSummary,
  progressText,
  type Transition,
  type TransitionSpec,
  waitForTransition,
} from "../../control/cli/workflows/transition-wait";
import { EXIT } from "../../shared/node/cli/errors";

const counts = (c: Partial<TransitionSpec["taskCounts"]>): TransitionSpec["taskCounts"] => ({
  total: 0,
  new: 0,
  planned: 0,
  "in-progress": 0,
  succeeded: 0,
  failed: 0,
  aborted: 0,
  ...c,
});

const transition = (state: TransitionSpec["state"], c: Partial<TransitionSpec["taskCounts"]>): Transition =>
  ({ spec: { id: "t1", state, taskCounts: counts(c), tasks: [] } }) as unknown as Transition;

describe("progress and exit codes", () => {
  it("counts final tasks (planned ones too) and names failures", () => {
    expect(
      progressText({ taskCounts: counts({ total: 20, succeeded: 2, failed: 1, "in-progress": 17 }) }),
    ).toBe("3/20 done, 1 failed");
    expect(progressText({ taskCounts: counts({ total: 2, planned: 2 }) })).toBe("2/2 done");
    expect(progressText({ taskCounts: counts({ total: 3, aborted: 2, failed: 1 }) })).toBe(
      "3/3 done, 1 failed, 2 aborted",
    );
  });

  it("exits 0 when every task succeeded or was planned, 4 when any failed or was aborted", () => {
    expect(exitOf({ taskCounts: counts({ total: 2, succeeded: 2 }) })).toBe(EXIT.ok);
    expect(exitOf({ taskCounts: counts({ total: 2, planned: 2 }) })).toBe(EXIT.ok);
    expect(exitOf({ taskCounts: counts({ total: 2, succeeded: 1, failed: 1 }) })).toBe(EXIT.partial);
    expect(exitOf({ taskCounts: counts({ total: 1, aborted: 1 }) })).toBe(EXIT.partial);
  });

  it("lists the tasks that did not succeed", () => {
    const spec = {
      tasks: [
        { xname: "n0", state: "succeeded", message: "On: On" },
        { xname: "n1", state: "failed", message: "did not reach On within 1.2 s" },
      ],
    } as unknown as TransitionSpec;
    expect(failureSummary(spec)).toEqual(["n1: failed: did not reach On within 1.2 s"]);
  });
});

describe("waitForTransition", () => {
  it("reports each change once and stops at a final state", async () => {
    const answers = [
      transition("new", { total: 2, new: 2 }),
      transition("in-progress", { total: 2, "in-progress": 2 }),
      transition("in-progress", { total: 2, "in-progress": 2 }),
      transition("completed", { total: 2, succeeded: 2 }),
    ];
    const seen: string[] = [];
    const r = await waitForTransition({
      fetch: async () => answers.shift()!,
      progress: (text) => seen.push(text),
      sleep: async () => {},
    });
    expect(r.final).toBe(true);
    expect(seen).toEqual(["0/2 done (new)", "0/2 done (in-progress)", "2/2 done (completed)"]);
  });

  it("gives up after the timeout with the last transition read", async () => {
    let clock = 0;
    let reads = 0;
    const r = await waitForTransition({
      fetch: async () => {
        reads++;
        return transition("in-progress", { total: 1, "in-progress": 1 });
      },
      progress: () => {},
      timeoutS: 1,
      intervalMs: 250,
      now: () => clock,
      sleep: async (ms) => {
        clock += ms;
      },
    });
    expect(r.final).toBe(false);
    expect(r.transition.spec.state).toBe("in-progress");
    expect(reads).toBe(5);
  });
});
