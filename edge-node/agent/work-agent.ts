/**
 * The edge's work agent: takes the power and discovery work the control
 * plane hands this edge's site over NATS (shared/work.ts) and runs it next
 * to the BMCs. The edges of a site share one durable consumer, so each
 * message goes to one of them; it is acknowledged once its results are
 * recorded by the control plane, and kept alive (`working`) while it runs.
 * A message this edge could not finish (it stopped, or the control plane
 * could not be told) goes back to the stream and runs again, here or on
 * another edge; the control API then answers only the tasks still open.
 * An edge killed outright stops signalling, and NATS re-delivers after
 * WORK_ACK_WAIT_MS.
 *
 * It pulls no more messages than it has free job slots, so that none waits
 * in a buffer while its acknowledgement time runs out.
 */
import type { Consumer, ConsumerMessages, JsMsg } from "@nats-io/jetstream";
import { connect, type NatsConnection } from "@nats-io/transport-node";
import { Backoff } from "../../shared/backoff";
import { ApiProblem } from "../../shared/client";
import type { Logger } from "../../shared/log";
import { Sleeper } from "../../shared/sleeper";
import { forCauses, SpanKind } from "../../shared/tracing";
import { type WorkMessage, workAttributes } from "../../shared/work";
import { ensureWorkConsumer, WORK_ACK_WAIT_MS } from "../../shared/work-stream";

export interface WorkAgentOptions {
  site: string;
  nats: { servers: string; stream: string; subjectPrefix: string };
  logger: Logger;
  /** Runs one message; resolves once its results are recorded. */
  run: (work: WorkMessage, stopping: AbortSignal) => Promise<void>;
  /** Messages run at once (each a transition's tasks or a scan). Default 16. */
  maxJobs?: number;
}

export class WorkAgent {
  private readonly sleeper = new Sleeper();
  private readonly stopping = new AbortController();
  private readonly running = new Set<Promise<void>>();
  private loop: Promise<void> | undefined;
  private nc: NatsConnection | undefined;
  private batch: ConsumerMessages | undefined;
  private connected = false;
  private finished = 0;
  private failed = 0;

  constructor(private readonly o: WorkAgentOptions) {}

  start(): void {
    this.loop ??= this.run();
  }

  /** For the edge's /status: its site, whether it takes work now, and what it has run. */
  status() {
    return {
      site: this.o.site,
      state: this.stopped ? "stopped" : this.connected ? "taking work" : "waiting for NATS",
      running: this.running.size,
      finished: this.finished,
      failed: this.failed,
    };
  }

  /** Stops taking work, stops the running jobs (their results are reported), and closes NATS. */
  async stop(): Promise<void> {
    this.stopping.abort(new Error("the edge stopped"));
    this.sleeper.wake();
    await this.batch?.close().catch(() => {});
    await this.loop;
    await Promise.all(this.running);
    await this.nc?.close().catch(() => {});
  }

  private get stopped() {
    return this.stopping.signal.aborted;
  }

  private async run() {
    const backoff = new Backoff();
    let wait = 0;
    while (!this.stopped) {
      try {
        this.nc = await connect({
          servers: this.o.nats.servers.split(",").map((s) => s.trim()),
          name: `chamicore-edge-work-${this.o.site}`,
          reconnect: false,
          timeout: 5000,
        });
        const consumer = await ensureWorkConsumer(this.nc, this.o.nats, this.o.site);
        this.o.logger.info("taking work for the site", { site: this.o.site });
        backoff.reset();
        this.connected = true;
        await this.take(consumer);
      } catch (e) {
        if (this.stopped) break;
        wait = backoff.fail();
        this.o.logger.warn("work stream unavailable; retrying", {
          err: (e as Error).message,
          retryMs: wait,
        });
      } finally {
        this.connected = false;
        const nc = this.nc;
        this.nc = undefined;
        // Jobs in flight keep their messages alive through this connection: let them end first.
        if (this.stopped) await Promise.all(this.running);
        await nc?.close().catch(() => {});
      }
      if (this.stopped) break;
      // A stream that ended without an error (the connection closed) is tried again after a second.
      await this.sleeper.sleep(backoff.failures > 0 ? wait : 1000);
    }
  }

  private async take(consumer: Consumer) {
    const max = this.o.maxJobs ?? 16;
    const closed = this.nc!.closed();
    let lost: Error | undefined;
    closed.then((e) => {
      lost = e ?? new Error("NATS connection closed");
    });
    while (!this.stopped && !lost) {
      if (this.running.size >= max) {
        await Promise.race([...this.running, this.sleeper.sleep(1000)]);
        continue;
      }
      this.batch = await consumer.fetch({ max_messages: max - this.running.size, expires: 5000 });
      // A stop that came while the fetch was being made found no batch to close.
      if (this.stopped) await this.batch.close().catch(() => {});
      for await (const msg of this.batch) this.begin(msg);
      this.batch = undefined;
    }
    if (lost && !this.stopped) throw lost;
  }

  private begin(msg: JsMsg) {
    const job = this.handle(msg).finally(() => this.running.delete(job));
    this.running.add(job);
  }

  private async handle(msg: JsMsg) {
    let work: WorkMessage;
    try {
      work = msg.json<WorkMessage>();
      if (work.kind !== "power" && work.kind !== "discovery")
        throw new Error(`unknown kind ${String((work as { kind: unknown }).kind)}`);
    } catch (e) {
      this.o.logger.error("dropping a work message this edge cannot read (a newer control plane?)", {
        err: (e as Error).message,
      });
      msg.term();
      return;
    }
    const alive = setInterval(() => msg.working(), WORK_ACK_WAIT_MS / 3);
    try {
      // Work from a traced request is run in a span of its trace: the agent API calls and each BMC request under it.
      await forCauses(
        work.traceparent ? [work.traceparent] : [],
        "chamicore.work.run",
        {
          "messaging.system": "nats",
          "messaging.operation.type": "process",
          "messaging.destination.name": msg.subject,
          "chamicore.site": this.o.site,
          ...workAttributes(work),
        },
        () => this.o.run(work, this.stopping.signal),
        SpanKind.CONSUMER,
      );
      msg.ack();
      this.finished++;
    } catch (e) {
      this.failed++;
      const err = e as Error;
      if (err instanceof ApiProblem && (err.status === 404 || err.status === 409 || err.status === 422)) {
        // The work is gone (deleted, already final) or can never be taken: running it again cannot help.
        this.o.logger.warn("work refused by the control plane; dropped", {
          ...describe(work),
          err: err.message,
        });
        msg.term();
        return;
      }
      const forbidden = err instanceof ApiProblem && (err.status === 401 || err.status === 403);
      this.o.logger.error(
        forbidden
          ? "the control plane refused this edge's work requests: give its service account the edge role (scopes admin:power-agent, admin:discovery-agent)"
          : "work failed; it goes back to the stream",
        { ...describe(work), err: err.message },
      );
      msg.nak(this.stopped ? 0 : forbidden ? 30_000 : 5_000);
    } finally {
      clearInterval(alive);
    }
  }
}

const describe = (w: WorkMessage) =>
  w.kind === "power" ? { kind: w.kind, transitionId: w.transitionId } : { kind: w.kind, scanId: w.scanId };
