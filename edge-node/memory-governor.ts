/**
 * Keeps the edge's resident memory near a target. JavaScriptCore (the
 * single executable's engine) sizes its heap by the host's RAM: on a
 * management host with gigabytes free it lets the heap double past what is
 * live before a full collection, so the garbage of a replication or of a
 * burst of requests stays resident, tens of MiB of it at 50,000 nodes.
 * Capping the heap for the whole process (a small RAM size) costs every
 * request more collections; this instead looks at the resident size now and
 * then and, above the target, runs one full collection, which also hands the
 * allocator's free pages back, but only while the edge is quiet (nothing
 * served since the last look): a full collection in a boot storm costs more
 * than the memory it frees (measured: a fifth more CPU per boot script, and
 * pauses that took a storm's p99 from 54 to 210 ms).
 *
 * After a collection, the next one waits until the process is `headroom`
 * above what that one left (and over the target): when what is live is
 * near or over the target (a bigger replica), each collection still hands
 * back at least the headroom, so a target set too low costs a collection
 * per `headroom` of garbage, not one a tick.
 */
export interface GovernorOptions {
  /** Resident bytes above which a full collection runs. */
  targetBytes: number;
  /** The process's resident bytes now. */
  rss: () => number;
  /** One full, synchronous collection. */
  collect: () => void;
  /** Whether nothing was served since it was last asked (default: always quiet). */
  quiet?: () => boolean;
  /** How often the resident size is looked at. */
  tickMs?: number;
  /** The shortest time between two collections. */
  minGapMs?: number;
  /** How far above what the last collection left the next one waits for. */
  headroomBytes?: number;
  /** Told of each collection, with the resident bytes before and after. */
  onCollect?: (before: number, after: number) => void;
}

/** What the governor does at one look; pure, for the tests. */
export class GovernorState {
  private next = 0;
  private threshold: number;

  constructor(
    private readonly o: Required<Pick<GovernorOptions, "targetBytes" | "minGapMs" | "headroomBytes">>,
  ) {
    this.threshold = o.targetBytes;
  }

  /** Whether to collect now, given the resident bytes. */
  due(now: number, rss: number): boolean {
    return rss > this.threshold && now >= this.next;
  }

  /** After a collection at `now` that left `after` bytes resident. */
  collected(now: number, after: number): void {
    this.threshold = Math.max(this.o.targetBytes, after + this.o.headroomBytes);
    this.next = now + this.o.minGapMs;
  }
}

/** Starts looking; `stop()` ends it. The timer never keeps the process alive. */
export function startMemoryGovernor(o: GovernorOptions): { stop(): void } {
  const state = new GovernorState({
    targetBytes: o.targetBytes,
    minGapMs: o.minGapMs ?? 200,
    headroomBytes: o.headroomBytes ?? 16 * 2 ** 20,
  });
  const timer = setInterval(() => {
    const now = performance.now();
    // Asked every look, so that "since the last look" means the last 100 ms.
    const quiet = o.quiet?.() ?? true;
    const before = o.rss();
    if (!quiet || !state.due(now, before)) return;
    o.collect();
    const after = o.rss();
    state.collected(performance.now(), after);
    o.onCollect?.(before, after);
  }, o.tickMs ?? 100);
  timer.unref?.();
  return { stop: () => clearInterval(timer) };
}
