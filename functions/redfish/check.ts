/**
 * Discovered components checked with the API's own schema before anything
 * is sent: what `POST /hsm/v2/import` would refuse becomes a problem that
 * names the field and the Redfish resource the value came from, and only
 * that part is left out (an interface, else the component).
 */

import { fieldPath, valueAt } from "../../shared/http/errors";
import { DiscoveredComponentSchema } from "../inventory/schemas";
import type { ComponentImportItem } from "./tree";
import { type DiscoveryProblem, defined } from "./tree";

/** A component being built, with the Redfish paths its parts came from. */
export interface Draft {
  component: Record<string, unknown> & { id: string };
  path: string;
  /** Per interface, the Redfish interfaces merged into it (one MAC). */
  ifacePaths: string[][];
}

const shown = (v: unknown) => (typeof v === "string" ? `'${v}'` : (JSON.stringify(v) ?? "nothing"));

/**
 * The draft checked with the API's schema: an invalid interface is left
 * out, an invalid component as a whole; each with a problem that names the
 * field and the Redfish resource the value came from. Fields are numbered
 * as in the draft (`interfaces[k]`: the k-th MAC found), whatever was left
 * out before; `origin` maps the item's interfaces back to those numbers.
 */
function checked(
  draft: Draft,
  problems: DiscoveryProblem[],
): { item: ComponentImportItem; origin: number[] } | undefined {
  let component = draft.component;
  let origin = draft.ifacePaths.map((_, k) => k);
  for (;;) {
    const r = DiscoveredComponentSchema.safeParse(component);
    if (r.success) return { item: r.data, origin };
    const issues = r.error.issues;
    const ifaceOf = (p: readonly PropertyKey[]) =>
      p[0] === "interfaces" && typeof p[1] === "number" && p.length > 2 ? p[1] : undefined;
    const whole = issues.some((i) => ifaceOf(i.path) === undefined);
    for (const issue of issues) {
      const k = ifaceOf(issue.path);
      const o = k === undefined ? undefined : origin[k]!;
      problems.push({
        path: o === undefined ? draft.path : (draft.ifacePaths[o]?.[0] ?? draft.path),
        id: draft.component.id,
        field: fieldPath(o === undefined ? issue.path : ["interfaces", o, ...issue.path.slice(2)]),
        message: `${shown(valueAt(component, issue.path))} ${issue.message}: the ${whole ? "component" : "interface"} is left out`,
      });
    }
    if (whole) return undefined;
    const bad = new Set(issues.map((i) => ifaceOf(i.path)));
    const keep = (_: unknown, k: number) => !bad.has(k);
    origin = origin.filter(keep);
    const interfaces = (component.interfaces as unknown[]).filter(keep);
    component = defined({ ...component, interfaces: interfaces.length ? interfaces : undefined });
  }
}

/**
 * The drafts that pass the API's schema, as it hands them on (MACs
 * normalised), in order. A MAC is imported once: the first component that
 * has it keeps it, as the inventory allows one interface per MAC.
 */
export function checkDrafts(drafts: Draft[], problems: DiscoveryProblem[]): ComponentImportItem[] {
  const components: ComponentImportItem[] = [];
  const macOwner = new Map<string, string>();
  for (const draft of drafts) {
    const ok = checked(draft, problems);
    if (!ok) continue;
    const { item, origin } = ok;
    const interfaces = item.interfaces?.filter((f, k) => {
      const owner = macOwner.get(f.macAddress);
      if (owner === undefined) {
        macOwner.set(f.macAddress, draft.component.id);
        return true;
      }
      problems.push({
        path: draft.ifacePaths[origin[k]!]?.[0] ?? draft.path,
        id: draft.component.id,
        field: `interfaces[${origin[k]}].macAddress`,
        message: `${f.macAddress} is also on ${owner}, which keeps it: the interface is left out`,
      });
      return false;
    });
    components.push(defined({ ...item, interfaces: interfaces?.length ? interfaces : undefined }));
  }
  return components;
}
