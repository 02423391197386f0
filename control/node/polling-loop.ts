/**
 * The rounds of a background agent (power, discovery): one every `pollMs`,
 * or at once when woken because this process just queued work. A failed
 * round (the database away, say) never ends the loop: it is logged once per
 * outage and retried with backoff, from 1 s up to 30 s; the first round that
 * succeeds again says so. `stop()` returns once the round in flight has ended.
 */
import { Backoff } from "../../shared/backoff";
import { errorFields } from "../../shared/error-fields";
import type { Logger } from "../../shared/log";
import { Sleeper } from "../../shared/sleeper";

export class PollingLoop {
  private readonly sleeper = new Sleeper();
  private loop: Promise<void> | undefined;
  private woken = false;
  private halted = false;

  constructor(
    private readonly o: { name: string; pollMs: number; logger: Logger; round: () => Promise<void> },
  ) {}

  /** True once `stop()` was called: a round should not start new work. */
  get stopped(): boolean {
    return this.halted;
  }

  start(): void {
    this.loop ??= this.run();
  }

  /** There is work: look at once. */
  wake(): void {
    this.woken = true;
    this.sleeper.wake();
  }

  async stop(): Promise<void> {
    this.halted = true;
    this.sleeper.wake();
    await this.loop;
  }

  private async run() {
    const backoff = new Backoff();
    let wait = 0;
    while (!this.halted) {
      try {
        await this.o.round();
        const failures = backoff.failures;
        if (failures > 0) this.o.logger.info(`${this.o.name}: rounds succeed again`, { failed: failures });
        backoff.reset();
      } catch (e) {
        wait = backoff.fail();
        const failures = backoff.failures;
        // Every failure at debug; the first of a run of them at warn, so an outage is one line.
        (failures === 1 ? this.o.logger.warn : this.o.logger.debug)(
          `${this.o.name}: a round failed; retrying`,
          {
            ...errorFields(e),
            failures,
          },
        );
      }
      if (this.halted) break;
      if (backoff.failures > 0) await this.sleeper.sleep(Math.max(this.o.pollMs, wait));
      else if (!this.woken) await this.sleeper.sleep(this.o.pollMs);
      this.woken = false;
    }
  }
}
