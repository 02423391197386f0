/**
 * Tools that wait for long work to end: they read the same route as the
 * matching `get` tool until the resource is final, and tell the agent how
 * far it is with MCP progress notifications on the way (when the agent asked
 * for them with a progress token). The read is the API's, with the
 * caller's token: a wait sees exactly what a `get` would.
 */
import { FINAL_SCAN_STATES, ScanSchema } from "../discovery/schemas";
import { FINAL_TRANSITION_STATES, TransitionSchema } from "../power/schemas";

const TransitionProgress = TransitionSchema.pick({ state: true, taskCounts: true });
const ScanProgress = ScanSchema.pick({ state: true, results: true, message: true });

export interface WaitStatus {
  done: boolean;
  progress: number;
  total?: number;
  message: string;
}

export interface WaitEntry {
  name: string;
  description: string;
  /** The read tool whose route is polled. */
  reads: string;
  /** Where the work is, from the read's document. */
  status: (spec: Record<string, unknown>) => WaitStatus;
}

function transitionStatus(spec: Record<string, unknown>): WaitStatus {
  const t = TransitionProgress.parse(spec);
  const c = t.taskCounts;
  const final = c.succeeded + c.failed + c.aborted + c.planned;
  return {
    done: FINAL_TRANSITION_STATES.includes(t.state),
    progress: final,
    total: c.total,
    message: `${t.state}: ${final} of ${c.total} task(s) final (${c.succeeded} succeeded, ${c.failed} failed)`,
  };
}

function scanStatus(spec: Record<string, unknown>): WaitStatus {
  const s = ScanProgress.parse(spec);
  const scanned = s.results?.length ?? 0;
  return {
    done: FINAL_SCAN_STATES.includes(s.state),
    progress: scanned,
    message: `${s.state}: ${scanned} address(es) scanned${s.message ? ` (${s.message})` : ""}`,
  };
}

export const WAITS: readonly WaitEntry[] = [
  {
    name: "power.transitions.wait",
    description: "Wait until a power transition is completed or aborted, with progress as its tasks end",
    reads: "power.transitions.get",
    status: transitionStatus,
  },
  {
    name: "discovery.scans.wait",
    description:
      "Wait until a discovery scan has completed, failed or been cancelled, with progress per address",
    reads: "discovery.scans.get",
    status: scanStatus,
  },
];
