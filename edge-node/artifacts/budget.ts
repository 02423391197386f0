/**
 * The disk budget: what must go before one more artifact fits. Only files
 * no boot parameters name any more may go, least recently served first; a
 * wanted file is never evicted for another wanted one (nodes would then
 * fetch one of them from the origin anyway, and the cache would churn).
 */

/** A verified file as the budget sees it. */
export interface HeldFile {
  sha256: string;
  size: number;
  /** Epoch ms of its last serve (its caching time until served). */
  lastServed: number;
}

export type SpacePlan =
  /** Evict these (possibly none), then it fits. */
  | { fits: true; evict: HeldFile[] }
  /** Even with every evictable file gone it would not fit: `short` bytes over the budget. */
  | { fits: false; short: number };

/**
 * @param used bytes on disk or promised to downloads in progress
 * @param need the size of the artifact about to be fetched
 * @param evictable verified files that nothing wants now
 */
export function planSpace(o: {
  budget: number;
  used: number;
  need: number;
  evictable: readonly HeldFile[];
}): SpacePlan {
  let over = o.used + o.need - o.budget;
  if (over <= 0) return { fits: true, evict: [] };
  const freeable = o.evictable.reduce((n, f) => n + f.size, 0);
  if (freeable < over) return { fits: false, short: over - freeable };
  const evict: HeldFile[] = [];
  for (const f of [...o.evictable].sort(
    (a, b) => a.lastServed - b.lastServed || a.sha256.localeCompare(b.sha256),
  )) {
    if (over <= 0) break;
    evict.push(f);
    over -= f.size;
  }
  return { fits: true, evict };
}
