/**
 * The steps of a process's stop, watched: a stop that hangs is otherwise
 * silent until the supervisor kills the process, so after `warnAfterMs`
 * (and every as long again) the log says which steps it still waits for.
 */
import type { Logger } from "./log";

export function watchedStop(log: Logger, warnAfterMs = 10_000) {
  const pending = new Set<string>();
  const watchdog = setInterval(() => log.warn("still stopping", { waitingFor: [...pending] }), warnAfterMs);
  // Not what keeps the process up: the steps are.
  (watchdog as { unref?: () => void }).unref?.();
  return {
    /** Awaits `done` as the step `what`. */
    async step(what: string, done: Promise<unknown> | unknown): Promise<void> {
      pending.add(what);
      try {
        await done;
      } finally {
        pending.delete(what);
      }
    },
    /** The stop is over. */
    end() {
      clearInterval(watchdog);
    },
  };
}
