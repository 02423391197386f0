/**
 * How the CLI shows a long import: batches of rows and a progress line.
 */

/** `[i, i + size)` slices. */
export function batches<T>(list: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < list.length; i += size) out.push(list.slice(i, i + size));
  return out;
}

/** `[########............] 400/1000  40%  812/s  2 failed`, fitting in `columns`. */
export function progressLine(p: {
  done: number;
  failed: number;
  total: number;
  seconds: number;
  columns?: number;
}): string {
  const handled = p.done + p.failed;
  const pct = p.total ? Math.floor((handled / p.total) * 100) : 100;
  const rate = p.seconds > 0 ? Math.round(handled / p.seconds) : 0;
  const tail = ` ${handled}/${p.total} ${String(pct).padStart(3)}%  ${rate}/s${p.failed ? `  ${p.failed} failed` : ""}`;
  const width = Math.max(10, Math.min(40, (p.columns ?? 80) - tail.length - 3));
  const filled = p.total ? Math.round((handled / p.total) * width) : width;
  return `[${"#".repeat(filled)}${".".repeat(width - filled)}]${tail}`;
}

/** `1.2 s`, `85 ms`. */
export const seconds = (ms: number) => (ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`);
