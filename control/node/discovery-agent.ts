/**
 * The control plane's own discovery agent (`chamicore serve`): runs the
 * scans whose targets have no site, i.e. BMCs the control plane itself can
 * reach.
 *
 * Every `pollMs` (1 s), and at once when woken (a scan was created or
 * cancelled in this process), it claims `new` scans and runs each in the
 * background: the executor reads up to 8 BMCs at once (every address of
 * every target), and what each held is merged into the inventory and the
 * power BMC endpoints one address at a time, in address order
 * (functions/discovery/service.ts), its result appended to the scan. A
 * cancelled scan stops before its next address. At start and now and then, scans left `running` by a process
 * that stopped are failed.
 */
import type { DiscoveryExecutor } from "../../functions/discovery/executor";
import type { AddressResult } from "../../functions/discovery/schemas";
import {
  addressesOf,
  addressResult,
  DISCOVERY_READ_AHEAD,
  errorText,
  scanOutcome,
} from "../../functions/discovery/service";
import type { ClaimedScan, DiscoveryQueue } from "../../functions/discovery/store";
import type { InventoryStore } from "../../functions/inventory/store";
import type { PowerStore } from "../../functions/power/store";
import { errorFields, safeErrorMessage } from "../../shared/error-fields";
import type { Logger } from "../../shared/log";
import { readAhead } from "../../shared/read-ahead";
import { forCauses, SpanKind } from "../../shared/tracing";
import { scanWorkAttributes } from "../../shared/work";
import { PollingLoop } from "./polling-loop";

export interface DiscoveryAgentOptions {
  queue: DiscoveryQueue;
  inventory: InventoryStore;
  power: PowerStore;
  executor: DiscoveryExecutor;
  logger: Logger;
  /** Time between two looks at the queue. Default 1 s. */
  pollMs?: number;
  /** BMCs read at once within a scan (merged one at a time, in order). Default 8. */
  readAhead?: number;
  /** A running scan with no result for this long, not run here, is failed. Default 10 min. */
  staleMs?: number;
}

export class DiscoveryAgent {
  private readonly runs = new Map<string, { controller: AbortController; done: Promise<void> }>();
  private lastSweep = 0;
  private readonly loop: PollingLoop;

  constructor(private readonly o: DiscoveryAgentOptions) {
    this.loop = new PollingLoop({
      name: "discovery agent",
      pollMs: this.o.pollMs ?? 1000,
      logger: o.logger,
      round: () => this.tick(),
    });
  }

  start(): void {
    this.loop.start();
  }

  /** There is work (or a cancel): look at once. */
  wake(): void {
    this.loop.wake();
  }

  /** Stops claiming, stops running scans before their next address, and waits for them. */
  async stop(): Promise<void> {
    await this.loop.stop();
    for (const r of this.runs.values()) r.controller.abort(new Error("the control plane stopped"));
    await Promise.all([...this.runs.values()].map((r) => r.done));
  }

  private async tick() {
    const now = Date.now();
    if (now - this.lastSweep >= 60_000) {
      this.lastSweep = now;
      const stale = new Date(now - (this.o.staleMs ?? 600_000));
      const failed = await this.o.queue.failAbandoned(null, new Set(this.runs.keys()), stale);
      if (failed > 0) this.o.logger.warn("abandoned discovery scans failed", { count: failed });
    }
    if (this.loop.stopped) return;
    for (const scan of await this.o.queue.claim(null, 10)) this.begin(scan);
  }

  private begin(scan: ClaimedScan) {
    const controller = new AbortController();
    const run = { controller, done: Promise.resolve() };
    // A scan started by a traced request is run in a span of its trace, each BMC request under it.
    run.done = forCauses(
      scan.traceparent ? [scan.traceparent] : [],
      "chamicore.work.run",
      scanWorkAttributes(scan.id),
      () => this.execute(scan, controller.signal),
      SpanKind.INTERNAL,
    )
      .catch((e: Error) => {
        this.o.logger.error("discovery scan failed", { scanId: scan.id, ...errorFields(e) });
        return this.o.queue.finish(scan.id, "failed", safeErrorMessage(e)).catch(() => {});
      })
      .finally(() => this.runs.delete(scan.id));
    this.runs.set(scan.id, run);
    this.o.logger.info("discovery scan running", { scanId: scan.id, targets: scan.targets.length });
  }

  private async execute(scan: ClaimedScan, signal: AbortSignal) {
    const results: AddressResult[] = [];
    const stores = { inventory: this.o.inventory, power: this.o.power };
    let stopped: Error | undefined;
    const finished = await readAhead(
      addressesOf(scan.targets),
      this.o.readAhead ?? DISCOVERY_READ_AHEAD,
      ({ target, address, index }) =>
        this.o.executor.scan(target, address, index, signal).catch((e: unknown) => ({ error: errorText(e) })),
      async (found, { target, address }) => {
        if (signal.aborted) {
          stopped = signal.reason as Error;
          return false;
        }
        const result = await addressResult(stores, target, address, found, scan.dryRun);
        results.push(result);
        // False: cancelled meanwhile; stop before the next address.
        return this.o.queue.record(scan.id, result);
      },
    );
    if (stopped) {
      await this.o.queue.finish(scan.id, "failed", stopped.message);
      return;
    }
    if (!finished) {
      this.o.logger.info("discovery scan cancelled", { scanId: scan.id });
      return;
    }
    const outcome = scanOutcome(results);
    await this.o.queue.finish(scan.id, outcome.state, outcome.message);
    this.o.logger.info("discovery scan finished", { scanId: scan.id, ...outcome });
  }
}
