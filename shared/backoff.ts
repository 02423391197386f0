/**
 * How long a retry loop waits after a run of failures: from `firstMs`,
 * doubling per failure, capped at `maxMs`, with jitter so that the edges of
 * a site that lost the control plane, NATS or an artifact origin together
 * do not all come back in the same instant. Every retry loop in the project
 * takes its delays from here and sleeps them on its own `Sleeper` (or an
 * abortable sleep), so new work or a stop still wakes it at once.
 */
export interface BackoffOptions {
  /** The wait after the first failure. Default 1 s. */
  firstMs?: number;
  /** The longest wait. Default 30 s. */
  maxMs?: number;
  /**
   * The random share of each wait, 0 to 1: the wait is drawn from
   * [(1 − jitter) × d, d] where d is the doubling delay. 1 is "full
   * jitter". Default 0.2.
   */
  jitter?: number;
  /** For tests: [0, 1) like Math.random. */
  random?: () => number;
}

/** The wait after the `failures`th failure in a row (1 for the first). */
export function backoffDelay(failures: number, o: BackoffOptions = {}): number {
  const first = o.firstMs ?? 1000;
  const max = o.maxMs ?? 30_000;
  const jitter = Math.min(1, Math.max(0, o.jitter ?? 0.2));
  // The exponent is bounded so that a very long outage cannot overflow to Infinity.
  const d = Math.min(max, first * 2 ** Math.min(Math.max(0, failures - 1), 40));
  return Math.round(d * (1 - jitter * (o.random ?? Math.random)()));
}

/** A run of failures: `fail()` counts one and says how long to wait; `reset()` after a success. */
export class Backoff {
  private n = 0;

  constructor(private readonly o: BackoffOptions = {}) {}

  /** Failures since the last success. */
  get failures(): number {
    return this.n;
  }

  /** Counts a failure; the wait before the next try. */
  fail(): number {
    this.n++;
    return backoffDelay(this.n, this.o);
  }

  /** A success: the next failure waits `firstMs` again. */
  reset(): void {
    this.n = 0;
  }
}
