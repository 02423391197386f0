/**
 * Following a job the control plane runs in the background (a power
 * transition, a discovery scan) until it is final: poll, show the progress
 * text when it changes, stop at a final state or when the timeout passes.
 * The clock and the fetch are arguments, so the loop is tested without a
 * server (tests/unit/cli-transition-wait.test.ts).
 */

export interface FollowOptions<T> {
  /** Reads the job as it is now. */
  fetch: () => Promise<T>;
  /** The progress text of a read; shown again only when it changes. */
  describe: (job: T) => string;
  isFinal: (job: T) => boolean;
  progress: (text: string, job: T) => void;
  /** Seconds before giving up; 0 or undefined: no limit. */
  timeoutS?: number;
  intervalMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

/** Polls until the job is final, or the timeout passes (then `final: false` with the last read). */
export async function followUntilFinal<T>(o: FollowOptions<T>): Promise<{ final: boolean; last: T }> {
  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const until = o.timeoutS ? now() + o.timeoutS * 1000 : Number.POSITIVE_INFINITY;
  let shown = "";
  for (;;) {
    const job = await o.fetch();
    const text = o.describe(job);
    if (text !== shown) o.progress(text, job);
    shown = text;
    if (o.isFinal(job)) return { final: true, last: job };
    if (now() >= until) return { final: false, last: job };
    await sleep(Math.min(o.intervalMs ?? 250, Math.max(0, until - now())));
  }
}

/** Progress on stderr: rewritten in place on a terminal, one line per change (naming `id`) in a pipe. */
export function progressOn(stderr: NodeJS.WriteStream, id: string) {
  const tty = stderr.isTTY === true;
  return {
    show: (text: string) => {
      stderr.write(tty ? `\r${text}\x1b[K` : `${id}: ${text}\n`);
    },
    /** Ends the line a terminal was rewriting. */
    end: () => {
      if (tty) stderr.write("\n");
    },
  };
}
