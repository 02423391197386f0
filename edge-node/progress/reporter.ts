/**
 * The edge's report of itself to the control plane (`PUT
 * /events/v1/edges/{name}`) every few seconds: replica position and lag,
 * feed mode, Kea sync and the boot progress buffer, so that `chamicore edge
 * list` shows every edge from one place. A report that fails is not kept:
 * the next one says the same, newer.
 */
import { EDGE_REPORT_SECONDS, type EdgeReport } from "../../functions/progress/schemas";
import { VERSION } from "../../shared/version";
import type { KeaSync } from "../kea/sync";
import type { EdgeSync } from "../sync";
import type { ProgressRecorder } from "./recorder";

export interface ReporterOptions {
  sync: Pick<EdgeSync, "status">;
  kea?: Pick<KeaSync, "status">;
  recorder: Pick<ProgressRecorder, "status">;
  /** Sends the report; a failure is forgotten. */
  send: (report: EdgeReport) => Promise<unknown>;
  everyMs?: number;
}

/** The report, from what the edge's /status shows. */
export function edgeReportOf(o: Omit<ReporterOptions, "send" | "everyMs">): EdgeReport {
  const s = o.sync.status();
  const kea = o.kea?.status();
  const p = o.recorder.status();
  return {
    version: VERSION,
    position: s.position,
    head: s.head,
    lagEvents: s.lagEvents,
    lagSeconds: s.lagSeconds,
    mode: s.mode,
    lastContact: s.lastContact,
    stalled: s.stalled ? { since: s.stalled.since, reason: s.stalled.reason } : null,
    applyOk: s.apply.ok,
    kea: kea ? { state: kea.state, reservations: kea.reservations, problems: kea.problems.total } : null,
    progress: { pending: p.pending, dropped: p.dropped, sent: p.sent },
  };
}

export class EdgeReporter {
  private timer: ReturnType<typeof setInterval> | undefined;
  private inFlight = false;

  constructor(private readonly o: ReporterOptions) {}

  start(): void {
    this.timer = setInterval(() => void this.report(), this.o.everyMs ?? EDGE_REPORT_SECONDS * 1000);
    this.timer.unref?.();
    void this.report();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private async report() {
    // One at a time: over a slow uplink a report may take longer than the interval.
    if (this.inFlight) return;
    this.inFlight = true;
    try {
      await this.o.send(edgeReportOf(this.o));
    } catch {
      // The control plane is away; the sync loop already says so in the log.
    } finally {
      this.inFlight = false;
    }
  }
}
