/**
 * One bandwidth cap shared by every download of the cache (a token bucket):
 * the rack's uplink carries the feed and boot progress too, and a node that
 * boots from the origin while its artifact is being fetched should still get
 * its bytes. Takers may go into debt; each then waits until the debt it
 * added is paid, so the sum over concurrent downloads stays at the rate.
 */
import { abortableSleep } from "../../shared/sleeper";

export class Throttle {
  private tokens: number;
  private at = performance.now();

  /**
   * @param rate bytes per second
   * @param burst bytes that may go at once after an idle spell (default a quarter of a second's worth, at least 64 KiB)
   */
  constructor(
    readonly rate: number,
    private readonly burst = Math.max(64 * 1024, rate / 4),
  ) {
    this.tokens = this.burst;
  }

  /** Accounts for `n` bytes; resolves when they fit under the rate. Rejects when `signal` aborts. */
  async take(n: number, signal?: AbortSignal): Promise<void> {
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.at) / 1000) * this.rate);
    this.at = now;
    this.tokens -= n;
    if (this.tokens < 0) await abortableSleep((-this.tokens / this.rate) * 1000, signal);
    signal?.throwIfAborted();
  }
}
