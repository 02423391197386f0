/**
 * The rounds of a background agent (power, discovery): one every `pollMs`,
 * or at once when woken because this process just queued work. A failed
 * round is logged and retried at the next; `stop()` returns once the round
 * in flight has ended.
 */
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
    while (!this.halted) {
      try {
        await this.o.round();
      } catch (e) {
        this.o.logger.warn(`${this.o.name}: a round failed; retrying`, { err: (e as Error).message });
      }
      if (this.halted) break;
      if (!this.woken) await this.sleeper.sleep(this.o.pollMs);
      this.woken = false;
    }
  }
}
