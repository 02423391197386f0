/**
 * Reads ahead, consumes in order: up to `limit` reads run at once, and each
 * result is handed to `consume` in the items' order as soon as it and all
 * before it are in. For discovery, where reading BMCs is slow and
 * independent but merging what they hold must happen one at a time and in
 * address order (two BMCs may share a chassis). `consume` answering false
 * stops: no further read starts, and reads in flight are left to finish
 * unconsumed.
 */
export async function readAhead<T, R>(
  items: readonly T[],
  limit: number,
  read: (item: T, index: number) => Promise<R>,
  consume: (result: R, item: T, index: number) => Promise<boolean>,
): Promise<boolean> {
  const pending: Promise<R>[] = [];
  let next = 0;
  const fill = () => {
    while (next < items.length && pending.length < limit) {
      const i = next++;
      const p = read(items[i]!, i);
      // Awaited in order below; a read that fails after a stop must not be an unhandled rejection.
      p.catch(() => {});
      pending.push(p);
    }
  };
  fill();
  for (let i = 0; i < items.length; i++) {
    const result = await pending.shift()!;
    if (!(await consume(result, items[i]!, i))) return false;
    fill();
  }
  return true;
}
