/**
 * A counting semaphore with two queues and cancellable waits, for the power
 * engine: one bounds the requests in flight across all BMCs, one per BMC
 * bounds the tasks at once on it.
 *
 * The urgent queue goes first so that work already started (a task
 * verifying its Reset) is never starved by work not yet begun: with a
 * single queue, a thousand queued first reads would delay every poll, and
 * each task's verification would take as long as the whole batch.
 */
export class Limiter {
  private active = 0;
  private readonly urgent: Waiter[] = [];
  private readonly normal: Waiter[] = [];

  constructor(readonly limit: number) {
    if (!(limit >= 1)) throw new Error(`limit must be at least 1, not ${limit}`);
  }

  /**
   * Resolves once a slot is held (call `release()` after); rejects with
   * `signal.reason` if the signal aborts first, holding nothing.
   */
  acquire(options: { urgent?: boolean; signal?: AbortSignal } = {}): Promise<void> {
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(signal.reason);
    if (this.active < this.limit && this.urgent.length === 0 && this.normal.length === 0) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      const queue = options.urgent ? this.urgent : this.normal;
      const onAbort = () => {
        const i = queue.indexOf(waiter);
        if (i >= 0) queue.splice(i, 1);
        reject(signal?.reason);
      };
      const waiter: Waiter = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      queue.push(waiter);
    });
  }

  release(): void {
    const next = this.urgent.shift() ?? this.normal.shift();
    // The slot passes straight to the next waiter: `active` does not change.
    if (next) next();
    else this.active--;
  }

  /** Runs `fn` holding a slot. */
  async run<T>(fn: () => Promise<T>, options: { urgent?: boolean; signal?: AbortSignal } = {}): Promise<T> {
    await this.acquire(options);
    try {
      return await fn();
    } finally {
      this.release();
    }
  }
}

type Waiter = () => void;
