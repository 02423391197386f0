/**
 * Starts the scans of targets with a schedule (`chamicore serve`): every
 * 30 s it asks the queue for the scans that are due (targets of any site;
 * several control-plane processes on one database start each once) and
 * wakes whoever runs them.
 */
import type { DiscoveryQueue } from "../../functions/discovery/store";
import type { Logger } from "../../shared/log";
import { PollingLoop } from "./polling-loop";

export class DiscoveryScheduler {
  private readonly loop: PollingLoop;

  constructor(
    private readonly o: {
      queue: DiscoveryQueue;
      logger: Logger;
      /** Called when scans were started: the agent and the dispatcher look at once. */
      started: () => void;
      /** Default 30 s. */
      pollMs?: number;
    },
  ) {
    this.loop = new PollingLoop({
      name: "discovery scheduler",
      pollMs: o.pollMs ?? 30_000,
      logger: o.logger,
      round: () => this.round(),
    });
  }

  start(): void {
    this.loop.start();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  private async round() {
    const scans = await this.o.queue.startDue(new Date());
    if (scans.length === 0) return;
    for (const s of scans)
      this.o.logger.info("scheduled discovery scan started", {
        scanId: s.id,
        target: s.spec.targetIds[0],
        site: s.spec.site,
      });
    this.o.started();
  }
}
