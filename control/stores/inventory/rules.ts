/**
 * Pure rules over a batch of new components: the order that inserts parents
 * before their children, and the parent cycles a batch may hold.
 */
import type { NewComponent } from "../../../functions/inventory/store";

/** Batch order in which every parent inside the batch is inserted before its children. */
export function parentsFirst(items: NewComponent[]): NewComponent[] {
  const byId = new Map(items.map((it) => [it.component.id, it]));
  const depth = new Map<string, number>();
  const depthOf = (id: string): number => {
    const known = depth.get(id);
    if (known !== undefined) return known;
    let d = 0;
    let p = byId.get(id)?.component.parentId;
    for (let hops = 0; p && byId.has(p) && hops < items.length; hops++) {
      d++;
      p = byId.get(p)!.component.parentId;
    }
    depth.set(id, d);
    return d;
  };
  return [...items].sort((a, b) => depthOf(a.component.id) - depthOf(b.component.id));
}

/** Index of an item whose in-batch parent chain loops back on itself, if any. */
export function findParentCycle(items: NewComponent[]): number | undefined {
  const byId = new Map(items.map((it, i) => [it.component.id, i]));
  for (let i = 0; i < items.length; i++) {
    const seen = new Set<string>();
    let cur: string | null | undefined = items[i]!.component.id;
    while (cur && byId.has(cur)) {
      if (seen.has(cur)) return i;
      seen.add(cur);
      cur = items[byId.get(cur)!]!.component.parentId;
    }
  }
  return undefined;
}
