/**
 * Hands the work of edge sites to their edges (`chamicore serve` with
 * NATS_URL). Every `pollMs` (250 ms), and at once when woken (a transition
 * or scan was created in this process), it:
 * - claims the `new` power tasks of each site and publishes one message
 *   per transition to that site's subject on the work stream
 *   (shared/work.ts); the edges of the site share one consumer, so one of
 *   them runs it. A message that cannot be published puts its tasks back.
 * - likewise claims the `new` discovery scans of each site;
 * - now and then, fails the tasks of sites that passed their deadline
 *   without a result (the edge was lost) and the scans of sites that went
 *   quiet, each with a message that says so.
 *
 * The message names the work only; the edge reads the rest, credentials
 * included, from the agent endpoints (functions/power/agent.ts,
 * functions/discovery/agent.ts) and reports there.
 */
import type { JetStreamClient } from "@nats-io/jetstream";
import { headers as natsHeaders } from "@nats-io/nats-core";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import type { DiscoveryQueue } from "../../functions/discovery/store";
import { budgetFromNow } from "../../functions/power/resolve";
import type { PowerQueue } from "../../functions/power/store";
import { Backoff } from "../../shared/backoff";
import type { Logger } from "../../shared/log";
import { activeTraceparent, continuing, inSpan, SpanKind } from "../../shared/tracing";
import { type WorkMessage, workAttributes, workSubject } from "../../shared/work";
import { ensureWorkStream } from "../../shared/work-stream";
import { PollingLoop } from "./polling-loop";

export interface WorkDispatcherOptions {
  power: PowerQueue;
  discovery: DiscoveryQueue;
  nats: { servers: string; stream: string; subjectPrefix: string };
  logger: Logger;
  /** Time between two looks at the queues. Default 250 ms. */
  pollMs?: number;
  /** Time between two sweeps for lost work. Default 10 s. */
  sweepMs?: number;
  /** A running scan of a site with no result for this long is failed. Default 10 min. */
  staleMs?: number;
}

export class WorkDispatcher {
  private readonly loop: PollingLoop;
  private nc: NatsConnection | undefined;
  private js: JetStreamClient | undefined;
  private lastSweep = 0;
  private nextConnect = 0;
  private readonly backoff = new Backoff();

  constructor(private readonly o: WorkDispatcherOptions) {
    this.loop = new PollingLoop({
      name: "work dispatcher",
      pollMs: o.pollMs ?? 250,
      logger: o.logger,
      round: () => this.round(),
    });
  }

  start(): void {
    this.loop.start();
  }

  wake(): void {
    this.loop.wake();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
    await this.nc?.close().catch(() => {});
  }

  private async round() {
    const now = Date.now();
    if (now - this.lastSweep >= (this.o.sweepMs ?? 10_000)) {
      this.lastSweep = now;
      await this.sweep(new Date(now));
    }
    const [powerSites, scanSites] = await Promise.all([
      this.o.power.activeSites(),
      this.o.discovery.pendingSites(),
    ]);
    if (powerSites.length === 0 && scanSites.length === 0) return;
    const js = await this.stream();
    if (!js) return;
    for (const site of powerSites) {
      const jobs = await this.o.power.claim(site, 1000, budgetFromNow);
      for (const job of jobs) {
        const taskIds = job.tasks.map((t) => t.id);
        const sent = await this.publish(
          js,
          site,
          { kind: "power", transitionId: job.transitionId, taskIds },
          job.traceparent,
        );
        if (sent)
          this.o.logger.info("power tasks handed to site", {
            site,
            transitionId: job.transitionId,
            tasks: taskIds.length,
          });
        else await this.o.power.release(taskIds);
      }
    }
    for (const site of scanSites)
      for (const scan of await this.o.discovery.claim(site, 10)) {
        if (await this.publish(js, site, { kind: "discovery", scanId: scan.id }, scan.traceparent))
          this.o.logger.info("discovery scan handed to site", { site, scanId: scan.id });
        else await this.o.discovery.release(scan.id);
      }
  }

  /**
   * Publishes `work`; when the request that made it was traced (`cause`),
   * in a span of that trace whose traceparent the message carries, in its
   * body and its NATS headers, for the edge's run to continue.
   */
  private async publish(
    js: JetStreamClient,
    site: string,
    work: WorkMessage,
    cause: string | undefined,
  ): Promise<boolean> {
    // The id makes a repeat within the stream's window (after a lost publish answer) a no-op.
    const msgID =
      work.kind === "power"
        ? `power:${work.transitionId}:${work.taskIds[0]}:${work.taskIds.length}`
        : `discovery:${work.scanId}`;
    const subject = workSubject(this.o.nats.subjectPrefix, site);
    const send = async () => {
      const traceparent = activeTraceparent();
      if (!traceparent) return js.publish(subject, JSON.stringify(work), { msgID });
      const headers = natsHeaders();
      headers.set("traceparent", traceparent);
      return js.publish(subject, JSON.stringify({ ...work, traceparent }), { msgID, headers });
    };
    try {
      if (!cause) await send();
      else
        await inSpan(
          "chamicore.work.dispatch",
          {
            "messaging.system": "nats",
            "messaging.operation.type": "send",
            "messaging.destination.name": subject,
            "chamicore.site": site,
            ...workAttributes(work),
          },
          send,
          { parent: continuing(cause), kind: SpanKind.PRODUCER },
        );
      return true;
    } catch (e) {
      this.o.logger.warn("could not hand work to its site; it stays queued", {
        site,
        err: (e as Error).message,
      });
      await this.drop();
      return false;
    }
  }

  /** The work stream, connecting first; undefined while NATS is unreachable (tried again with backoff). */
  private async stream(): Promise<JetStreamClient | undefined> {
    if (this.js) return this.js;
    if (Date.now() < this.nextConnect) return undefined;
    try {
      this.nc = await connect({
        servers: this.o.nats.servers.split(",").map((s) => s.trim()),
        name: "chamicore-work-dispatcher",
        timeout: 5000,
      });
      this.js = await ensureWorkStream(this.nc, this.o.nats);
      this.backoff.reset();
      return this.js;
    } catch (e) {
      this.o.logger.warn("NATS unreachable; edge work waits", { err: (e as Error).message });
      await this.drop();
      this.nextConnect = Date.now() + this.backoff.fail();
      return undefined;
    }
  }

  private async drop() {
    const nc = this.nc;
    this.nc = undefined;
    this.js = undefined;
    await nc?.close().catch(() => {});
  }

  private async sweep(now: Date) {
    const none = new Set<string>();
    let failed = 0;
    for (const site of await this.o.power.activeSites())
      failed += await this.o.power.failOverdue(site, none, now);
    if (failed > 0)
      this.o.logger.warn("power tasks of edge sites failed past their deadline", { count: failed });
    const stale = new Date(now.getTime() - (this.o.staleMs ?? 600_000));
    let abandoned = 0;
    for (const site of await this.o.discovery.runningSites())
      abandoned += await this.o.discovery.failAbandoned(site, none, stale);
    if (abandoned > 0)
      this.o.logger.warn("discovery scans of edge sites failed (no result for too long)", {
        count: abandoned,
      });
  }
}
