/**
 * The discovery service's store ports. `DiscoveryStore` is what the
 * handlers need; `DiscoveryQueue` is what an agent that runs scans needs
 * (the control plane's in-process agent, and the dispatcher and agent endpoints
 * that run scans of a site on its edges). The
 * control plane implements both over Postgres (control/stores/discovery.ts).
 * Writes of targets and scan state changes write their change events
 * (`chamicore.discovery.*`) in the same transaction.
 */
import type { Stored } from "../../shared/envelope";
import type { ListQuery } from "../../shared/list-query";
import type { Page } from "../inventory/store";
import type { AddressResult, Scan, ScanState, Target } from "./schemas";

export interface NewScan {
  id: string;
  targetIds: string[];
  dryRun: boolean;
  site: string | null;
  requestedBy: string;
}

export interface DiscoveryStore {
  listTargets(q: ListQuery): Promise<Page<Target>>;
  getTarget(id: string): Promise<Stored<Target> | undefined>;
  /** The targets with these ids that exist (any order). */
  getTargets(ids: string[]): Promise<Stored<Target>[]>;
  /** 409 when the id exists; 422 when the credential is missing. */
  createTarget(t: Target): Promise<Stored<Target>>;
  /** Replaces the target whose stored etag is `ifMatch` (412 otherwise, 404 when absent). */
  updateTarget(t: Target, ifMatch: string): Promise<Stored<Target>>;
  deleteTarget(id: string): Promise<void>;

  createScan(s: NewScan): Promise<Stored<Scan>>;
  /** Without results. Filters: state, dryRun, requestedBy. */
  listScans(q: ListQuery): Promise<Page<Scan>>;
  /** With its results, unless `results: false` (a cheap read of its state, for each address an agent reports). */
  getScan(id: string, opts?: { results?: boolean }): Promise<Stored<Scan> | undefined>;
  /** A new scan ends `cancelled` at once; a running one is `cancelled` and its agent stops before the next address. 404, 409 when final. */
  cancelScan(id: string): Promise<Stored<Scan>>;
}

/** One claimed scan with its targets as they are now (deleted ones left out). */
export interface ClaimedScan {
  id: string;
  dryRun: boolean;
  targets: Target[];
  /** The W3C traceparent of the request that started the scan, when it was traced. */
  traceparent?: string;
}

/** The queue of scans to run, for agents. */
export interface DiscoveryQueue {
  /** Marks up to `limit` `new` scans of `site` (null: the control plane's own) `running` and hands them out. */
  claim(site: string | null, limit: number): Promise<ClaimedScan[]>;
  /**
   * Starts the scheduled scans that are due at `now`: one scan per target
   * whose `nextScanAt` has come (of any site; requested by `schedule`),
   * unless a scan of it is still new or running. Either way the target's
   * next turn moves `everyMinutes` on. Answers the scans created.
   */
  startDue(now: Date): Promise<Stored<Scan>[]>;
  /** Sites (never null) with `new` scans: where a dispatcher has scans to hand out. */
  pendingSites(): Promise<string[]>;
  /** Sites (never null) with `running` scans: where a sweep looks for abandoned ones. */
  runningSites(): Promise<string[]>;
  /** Puts a claimed scan that is still `running` back to `new` (its hand-off failed). */
  release(scanId: string): Promise<void>;
  /** Appends one address's result; false when the scan is no longer running (cancelled): stop. */
  record(scanId: string, result: AddressResult): Promise<boolean>;
  /** Ends a running scan (no-op when it is already final, e.g. cancelled). */
  finish(scanId: string, state: Extract<ScanState, "completed" | "failed">, message: string): Promise<void>;
  /**
   * Fails scans of `site` left `running` by a process that stopped: those
   * not in `running` whose last result is older than `staleBefore`.
   */
  failAbandoned(site: string | null, running: ReadonlySet<string>, staleBefore: Date): Promise<number>;
}
