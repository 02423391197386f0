/**
 * Keeps Kea's reservations in step with the edge's replica.
 *
 * One loop, so one write at a time. It reads Kea in full at start and every
 * `reconcileMs` (catching anything changed behind its back), and in
 * between diffs the replica against what it last wrote. A replica change
 * `nudge()`s the loop, which waits until changes have settled for
 * `settleMs` (at most `maxSettleMs` after the first): a burst of 10,000
 * changes becomes a handful of writes, not 10,000.
 *
 * What cannot go in is reported, not fatal: addresses outside Kea's
 * subnets, an address claimed twice, and reservations Kea refuses (kept as
 * Kea has them, retried with exponential backoff, at once if the inventory
 * changes them). Kea unreachable: the edge serves on and retries with
 * backoff. `stop()` lets the write in flight finish.
 */

import { backoffDelay } from "../../shared/backoff";
import type { Logger } from "../../shared/log";
import { Counter, Gauge, Histogram, type Registry } from "../../shared/metrics";
import { Sleeper } from "../../shared/sleeper";
import { forCauses } from "../../shared/tracing";
import { type KeaClient, KeaUnreachable } from "./client";
import {
  type DhcpHost,
  diffReservations,
  type Placed,
  type ProblemReason,
  planReservations,
  type ReservationKey,
  type ReservationProblem,
  sameReservation,
} from "./reservations";
import { detectStrategy, type KeaState, type KeaStrategy } from "./strategy";

/** A Kea write is linked to at most this many of the traced changes it carries. */
const MAX_CAUSES = 32;

export interface KeaSyncOptions {
  kea: KeaClient;
  /** The inventory's interfaces as the replica has them now. */
  hosts: () => DhcpHost[];
  logger: Logger;
  registry: Registry;
  /** Full read of Kea every so often (KEA reconcile period). */
  reconcileMs: number;
  settleMs?: number;
  maxSettleMs?: number;
}

interface Refusal {
  wanted: Placed;
  text: string;
  attempts: number;
  since: string;
  retryAt: number;
}

export type KeaSyncState = "starting" | "in-step" | "problems" | "unreachable";

/** Problems kept in /status (the metric and the totals count all of them). */
const LISTED_PROBLEMS = 100;
const MAX_BACKOFF_MS = 5 * 60_000;
const REASONS: ProblemReason[] = [
  "outside-subnets",
  "not-a-host-address",
  "duplicate-address",
  "second-address-in-subnet",
  "refused",
];

export class KeaSync {
  private readonly sleeper = new Sleeper();
  private loop: Promise<void> | undefined;
  private stopped = false;
  private dirty = false;
  private lastNudge = 0;
  /** Traceparents of the changes since the last round (at most MAX_CAUSES are kept). */
  private causes: string[] = [];
  private strategy: KeaStrategy | undefined;
  private state: KeaState | undefined;
  private nextFull = 0;
  private readonly refusals = new Map<ReservationKey, Refusal>();
  private planned: ReservationProblem[] = [];
  private reported = new Set<string>();
  private desiredCount = 0;
  private phase: KeaSyncState = "starting";
  private lastError: string | undefined;
  private lastReconcileAt: string | undefined;
  private lastFullAt: string | undefined;
  private lastWriteAt: string | undefined;
  private lastDurationMs: number | undefined;
  private rounds = 0;
  private readonly m;

  constructor(private readonly o: KeaSyncOptions) {
    const r = o.registry;
    this.m = {
      reservations: r.register(
        new Gauge(
          "chamicore_edge_kea_reservations",
          "Chamicore's reservations in Kea, as last read or written.",
        ),
      ),
      problems: r.register(
        new Gauge("chamicore_edge_kea_problems", "Interface addresses that are not in Kea, by reason."),
      ),
      writes: r.register(new Counter("chamicore_edge_kea_writes_total", "Writes to Kea, by result.")),
      changes: r.register(
        new Counter("chamicore_edge_kea_changes_total", "Reservation changes sent to Kea, by outcome."),
      ),
      seconds: r.register(
        new Histogram(
          "chamicore_edge_kea_reconcile_seconds",
          "Time for one reconcile round, by kind (full, incremental).",
        ),
      ),
      lastSuccess: r.register(
        new Gauge(
          "chamicore_edge_kea_last_success_timestamp_seconds",
          "End of the last reconcile that reached Kea.",
        ),
      ),
      up: r.register(new Gauge("chamicore_edge_kea_up", "1 when the last exchange with Kea succeeded.")),
    };
    for (const reason of REASONS) this.m.problems.set(0, { reason });
    for (const result of ["ok", "error"]) this.m.writes.inc({ result }, 0);
    this.m.up.set(0);
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** The replica changed (by traced changes, `traces`): reconcile once changes settle. */
  nudge(traces: readonly string[] = []): void {
    for (const t of traces) if (this.causes.length < MAX_CAUSES) this.causes.push(t);
    this.dirty = true;
    this.lastNudge = Date.now();
    this.sleeper.wake();
  }

  /** Stops after the write in flight (if any) is done. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.sleeper.wake();
    await this.loop;
  }

  /** Resolves after the next reconcile round that starts after this call (for tests and benchmarks). */
  async settled(timeoutMs = 60_000): Promise<void> {
    const target = this.rounds + (this.busy ? 2 : 1);
    this.nudge();
    const until = Date.now() + timeoutMs;
    while (this.rounds < target) {
      if (Date.now() > until) throw new Error(`Kea sync did not complete a round within ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  private busy = false;

  status() {
    const problems = [
      ...this.planned.map((p) => ({ ...p })),
      ...[...this.refusals.values()].map((f) => ({
        reason: "refused" as const,
        componentId: f.wanted.reservation["user-context"].chamicore.component,
        interfaceId: f.wanted.reservation["user-context"].chamicore.interface,
        mac: f.wanted.reservation["hw-address"],
        address: f.wanted.reservation["ip-address"],
        detail: f.text,
        attempts: f.attempts,
        since: f.since,
        retryAt: new Date(f.retryAt).toISOString(),
      })),
    ];
    return {
      state: this.phase,
      controlAgent: this.o.kea.where,
      strategy: this.strategy?.name ?? null,
      reservations: this.state?.owned.size ?? null,
      wanted: this.desiredCount,
      unsaved: this.strategy?.unsaved ?? false,
      lastReconcileAt: this.lastReconcileAt ?? null,
      lastFullReconcileAt: this.lastFullAt ?? null,
      lastWriteAt: this.lastWriteAt ?? null,
      lastDurationMs: this.lastDurationMs ?? null,
      lastError: this.lastError ?? null,
      problems: {
        total: problems.length,
        byReason: Object.fromEntries(REASONS.map((r) => [r, problems.filter((p) => p.reason === r).length])),
        items: problems.slice(0, LISTED_PROBLEMS),
      },
    };
  }

  private async run() {
    let failures = 0;
    while (!this.stopped) {
      this.busy = true;
      try {
        this.dirty = false;
        await this.reconcile();
        failures = 0;
        this.lastError = undefined;
        this.m.up.set(1);
      } catch (e) {
        failures++;
        this.state = undefined; // read Kea afresh next time
        const msg = (e as Error).message;
        if (msg !== this.lastError)
          this.o.logger.warn(
            e instanceof KeaUnreachable ? "Kea unreachable; will retry" : "Kea sync failed; will retry",
            { err: msg },
          );
        this.lastError = msg;
        this.phase = "unreachable";
        this.m.up.set(0);
        this.m.writes.inc({ result: "error" });
      } finally {
        this.busy = false;
        this.rounds++;
      }
      if (this.stopped) break;
      const backoff = failures > 0 ? backoffDelay(failures, { maxMs: 60_000 }) : undefined;
      await this.waitForWork(backoff);
    }
  }

  /** Sleeps until a nudge (then lets changes settle), the next full read, a retry, or `backoffMs`. */
  private async waitForWork(backoffMs: number | undefined) {
    const now = Date.now();
    const retries = [...this.refusals.values()].map((f) => f.retryAt);
    const due = backoffMs !== undefined ? now + backoffMs : Math.min(this.nextFull, ...retries);
    if (!this.dirty && due > now) await this.sleeper.sleep(due - now);
    if (!this.dirty || this.stopped || backoffMs !== undefined) return;
    const settle = this.o.settleMs ?? 200;
    const cap = Date.now() + (this.o.maxSettleMs ?? 2000);
    for (;;) {
      const quietFor = Date.now() - this.lastNudge;
      const left = Math.min(settle - quietFor, cap - Date.now());
      if (left <= 0 || this.stopped) return;
      await this.sleeper.sleep(left);
    }
  }

  private async reconcile() {
    const t0 = performance.now();
    // The traced changes this round writes for: its Kea write is a span of the first, linked to the rest.
    const causes = this.causes.splice(0);
    this.strategy ??= await this.detect();
    if (this.strategy.unsaved) await this.strategy.save();
    const full = !this.state || Date.now() >= this.nextFull;
    if (full || !this.state) {
      this.state = await this.strategy.read();
      this.nextFull = Date.now() + this.o.reconcileMs;
      this.lastFullAt = new Date().toISOString();
    }
    const state = this.state;
    const tPlan = performance.now();
    const { desired, problems } = planReservations(this.o.hosts(), state.subnets);
    this.desiredCount = desired.size;
    this.planned = problems;

    // Refusals whose reservation is no longer wanted, or wanted differently, are forgotten (retried now).
    for (const [key, f] of this.refusals) {
      const now = desired.get(key);
      if (!now || !sameReservation(f.wanted.reservation, now.reservation)) this.refusals.delete(key);
    }
    const hold = new Set([...this.refusals].filter(([, f]) => f.retryAt > Date.now()).map(([k]) => k));
    const changes = diffReservations(state.owned, desired, hold);
    if (changes.length > 0) {
      const tWrite = performance.now();
      const strategy = this.strategy;
      const res = await forCauses(
        causes,
        "chamicore.kea.write",
        { "chamicore.kea.changes": changes.length, "chamicore.kea.strategy": strategy.name },
        async (span) => {
          const r = await strategy.write(changes, state);
          span?.setAttributes({
            "chamicore.kea.applied": r.applied.length,
            "chamicore.kea.refused": r.refused.length,
          });
          return r;
        },
      );
      this.state = res.state;
      this.lastWriteAt = new Date().toISOString();
      this.m.writes.inc({ result: "ok" });
      if (res.applied.length) this.m.changes.inc({ outcome: "applied" }, res.applied.length);
      if (res.refused.length) this.m.changes.inc({ outcome: "refused" }, res.refused.length);
      for (const c of res.applied) this.refusals.delete(c.key);
      for (const { change, text } of res.refused) {
        const wanted = desired.get(change.key);
        if (!wanted) continue;
        const before = this.refusals.get(change.key);
        const attempts = (before?.attempts ?? 0) + 1;
        this.refusals.set(change.key, {
          wanted,
          text,
          attempts,
          since: before?.since ?? new Date().toISOString(),
          retryAt: Date.now() + backoffDelay(attempts + 1, { maxMs: MAX_BACKOFF_MS }),
        });
      }
      this.o.logger.info("Kea reservations updated", {
        applied: res.applied.length,
        refused: res.refused.length,
        reservations: res.state.owned.size,
        // Where the time went: reading Kea (full rounds), planning from the replica, writing.
        readMs: Math.round(tPlan - t0),
        planMs: Math.round(tWrite - tPlan),
        writeMs: Math.round(performance.now() - tWrite),
      });
    }
    this.report();
    const seconds = (performance.now() - t0) / 1000;
    this.lastDurationMs = Math.round(seconds * 1000);
    this.m.seconds.observe(seconds, { kind: full ? "full" : "incremental" });
    this.lastReconcileAt = new Date().toISOString();
    this.m.lastSuccess.set(Math.floor(Date.now() / 1000));
    this.m.reservations.set(this.state.owned.size);
  }

  private async detect(): Promise<KeaStrategy> {
    const s = await detectStrategy(this.o.kea);
    this.o.logger.info("Kea sync started", {
      controlAgent: this.o.kea.where,
      strategy: s.name,
      how:
        s.name === "config"
          ? "config-get, config-test, config-set, config-write (no host_cmds hook with a hosts database)"
          : "host_cmds reservation-add/reservation-del",
    });
    return s;
  }

  /** Metrics, the state, and one log line per problem when it first appears. */
  private report() {
    const refusals = [...this.refusals.values()];
    for (const reason of REASONS)
      this.m.problems.set(
        reason === "refused" ? refusals.length : this.planned.filter((p) => p.reason === reason).length,
        { reason },
      );
    this.phase = this.planned.length + refusals.length > 0 ? "problems" : "in-step";
    const current = new Set<string>();
    const fresh: Record<string, unknown>[] = [];
    for (const p of this.planned) {
      const id = `${p.reason}|${p.mac}|${p.address}|${p.detail}`;
      current.add(id);
      if (!this.reported.has(id)) fresh.push({ ...p });
    }
    for (const f of refusals) {
      const r = f.wanted.reservation;
      const id = `refused|${r["hw-address"]}|${r["ip-address"]}|${f.text}`;
      current.add(id);
      if (!this.reported.has(id))
        fresh.push({ reason: "refused", mac: r["hw-address"], address: r["ip-address"], detail: f.text });
    }
    for (const p of fresh.slice(0, 20)) this.o.logger.warn("reservation not in Kea", p);
    if (fresh.length > 20)
      this.o.logger.warn("more reservations not in Kea; see /status", { more: fresh.length - 20 });
    this.reported = current;
  }
}
