/**
 * Discovery's rules: building targets, starting scans, and merging what a
 * scan found into the inventory and the power service through their store
 * ports (so their validation and change events apply).
 */

import { guardedUpdate } from "../../shared/http/conditional";
import { applyMergePatch } from "../../shared/http/merge-patch";
import { ApiError } from "../../shared/problem";
import type { Component, Interface } from "../inventory/schemas";
import { buildInterface, buildNewComponents } from "../inventory/service";
import type { InventoryStore } from "../inventory/store";
import { normalizeAddress } from "../power/schemas";
import type { PowerStore } from "../power/store";
import type { BmcDiscovery, ComponentImportItem } from "../redfish/discovery";
import { RedfishOptionsSchema } from "../redfish/drivers";
import type { Stores } from "../stores";
import {
  type AddressResult,
  type Target,
  type TargetCreate,
  type TargetPatch,
  type TargetReplace,
  TargetReplaceSchema,
} from "./schemas";

/** What a merge needs of a BMC's discovery (an edge agent sends just this). */
export type Found = Pick<BmcDiscovery, "components" | "problems"> & {
  bmc: Pick<BmcDiscovery["bmc"], "id" | "type">;
};

/** What the entry point gives the discovery routes. */
export interface DiscoverySettings {
  /** Lets the in-process agent look at once after a scan was created or cancelled. */
  wake?: () => void;
}

/**
 * A target after a merge patch: the patch applied to the target as a
 * replace body would state it (so `options` merge key by key), then built
 * as a replace is, with the same checks.
 */
export function mergeTarget(current: Target, patch: TargetPatch): Target {
  const { id: bodyId, ...changes } = patch;
  const { id: _id, nextScanAt: _next, ...stated } = current;
  const parsed = TargetReplaceSchema.safeParse(applyMergePatch(stated, changes));
  if (!parsed.success)
    throw new ApiError("validation", "The patched target is not valid", {
      errors: parsed.error.issues.map((i) => ({
        field: i.path.map(String).join(".") || "body",
        message: i.message,
      })),
    });
  return buildTarget({ ...parsed.data, id: bodyId }, current.id);
}

/** A target from a create or replace body; the options parsed with the driver's schema (422 naming the field). */
export function buildTarget(input: TargetCreate | TargetReplace, id: string): Target {
  if (input.id !== undefined && input.id !== id)
    throw new ApiError("validation", "The id in the body differs from the one in the path", {
      errors: [{ field: "id", message: `must be '${id}' (the id in the path) or absent` }],
    });
  const parsed = RedfishOptionsSchema.safeParse(input.options ?? {});
  if (!parsed.success)
    throw new ApiError("validation", "The redfish driver's options are not valid", {
      errors: parsed.error.issues.map((i) => ({
        field: ["options", ...i.path.map(String)].join("."),
        message: i.message,
      })),
    });
  return {
    id,
    name: input.name ?? "",
    addresses: [...new Set(input.addresses)],
    driver: input.driver ?? "redfish",
    credentialId: input.credentialId,
    site: input.site ?? null,
    options: parsed.data,
    schedule: input.schedule ?? null,
    // The store sets when the next scheduled scan starts.
    nextScanAt: null,
  };
}

/**
 * Stores a scan over the named targets (default all). 422 when a target does
 * not exist, there are none, or they are of different sites.
 */
export async function createScan(
  store: Stores["discovery"],
  settings: DiscoverySettings,
  body: { targets?: string[] | undefined; dryRun?: boolean | undefined },
  requestedBy: string,
) {
  let targets: Target[];
  if (body.targets) {
    const ids = [...new Set(body.targets)];
    const found = new Map((await store.getTargets(ids)).map((t) => [t.id, t.spec]));
    const missing = ids.filter((id) => !found.has(id));
    if (missing.length)
      throw new ApiError("validation", `target(s) ${missing.join(", ")} do not exist`, {
        errors: missing.map((id) => ({
          field: `targets[${body.targets!.indexOf(id)}]`,
          message: `target '${id}' does not exist`,
        })),
      });
    targets = ids.map((id) => found.get(id)!);
  } else {
    targets = (await store.listTargets(allQuery)).rows.map((r) => r.spec);
    if (targets.length === 0)
      throw new ApiError("validation", "there are no discovery targets: create one first", {
        errors: [{ field: "targets", message: "no target exists (POST /discovery/v1/targets)" }],
      });
  }
  const sites = [...new Set(targets.map((t) => t.site))];
  if (sites.length > 1)
    throw new ApiError("validation", "the targets belong to different sites: scan one site at a time", {
      errors: [
        { field: "targets", message: `sites: ${sites.map((s) => s ?? "(control plane)").join(", ")}` },
      ],
    });
  const row = await store.createScan({
    id: crypto.randomUUID(),
    targetIds: targets.map((t) => t.id),
    dryRun: body.dryRun ?? false,
    site: sites[0] ?? null,
    requestedBy,
  });
  settings.wake?.();
  return row;
}

const allQuery = {
  filters: {},
  sort: { field: "id", desc: false },
  limit: 10_000,
  offset: 0,
  fields: undefined,
};

// ---------- merge ----------

/** What merging one BMC's discovery gave. */
export type MergeOutcome = Pick<
  AddressResult,
  "created" | "updated" | "unchanged" | "interfacesAdded" | "ipAddressesAdded" | "bmcEndpoint"
>;

const nothingMerged = (): MergeOutcome => ({
  created: [],
  updated: [],
  unchanged: [],
  interfacesAdded: [],
  ipAddressesAdded: [],
  bmcEndpoint: null,
});

/**
 * The state to keep when discovery says `found`: discovery knows power (On,
 * Off) and that a BMC answered (Ready). A node that is On and Ready stays
 * Ready (it has booted); other states follow what the BMC says.
 */
export function stateAfter(current: string, found: string): string {
  if (found === current) return current;
  if (found === "On" && current === "Ready") return current;
  if (found === "Ready" && current !== "Empty" && current !== "Populated" && current !== "Unknown")
    return current;
  return found;
}

/** `current` changed only in what discovery knows: state, and a parent where none is set. */
export function mergeDiscovered(current: Component, item: ComponentImportItem): Component {
  return {
    ...current,
    state: (item.state !== undefined
      ? stateAfter(current.state, item.state)
      : current.state) as Component["state"],
    parentId: current.parentId ?? item.parentId ?? null,
  };
}

const sameComponent = (a: Component, b: Component) => a.state === b.state && a.parentId === b.parentId;

/**
 * Merges one BMC's components into the inventory: components that do not
 * exist are created in one bulk create (parents first, with their
 * interfaces); existing ones change only in state and a missing parent, and
 * get the MACs they lack. Role, nid, groups, flags and everything else an
 * operator set are kept. A MAC the inventory already has (on any
 * component) is not added again. Then the power BMC endpoint for a NodeBMC
 * is created or brought in line with the target. `dryRun` computes the
 * same lists without writing.
 */
export async function mergeDiscovery(
  stores: { inventory: InventoryStore; power: PowerStore },
  target: Target,
  address: string,
  found: Found,
  dryRun: boolean,
): Promise<MergeOutcome> {
  const out = nothingMerged();
  const items = found.components;
  const macs = items.flatMap((c) => (c.interfaces ?? []).map((f) => f.macAddress));
  const known = new Set<string>();
  /** The inventory's interfaces with these MACs, by MAC: where new addresses of a known MAC go. */
  const rows = new Map<string, Interface>();
  if (macs.length) {
    const page = await stores.inventory.listInterfaces({ ...allQuery, filters: { macAddress: macs } });
    for (const r of page.rows) {
      known.add(r.spec.macAddress);
      rows.set(r.spec.macAddress, r.spec);
    }
  }
  const fresh: ComponentImportItem[] = [];
  const existing: { item: ComponentImportItem; current: Component }[] = [];
  for (const item of items) {
    const current = item.id ? await stores.inventory.getComponent(item.id) : undefined;
    if (current) existing.push({ item, current: current.spec });
    else fresh.push(item);
  }
  // New components: their MACs that some other component already has are left out.
  const toCreate = fresh.map((item) => ({
    ...item,
    interfaces: (item.interfaces ?? []).filter((f) => {
      if (known.has(f.macAddress)) return false;
      known.add(f.macAddress);
      out.interfacesAdded.push(f.macAddress);
      return true;
    }),
  }));
  const pathOf = (i: number) => `components[${i}].`;
  const built = buildNewComponents(toCreate, pathOf);
  out.created.push(...built.map((b) => b.component.id));
  if (!dryRun && built.length) await stores.inventory.createComponents(built, pathOf);

  for (const { item, current } of existing) {
    const next = mergeDiscovered(current, item);
    const missing: Interface[] = (item.interfaces ?? [])
      .filter((f) => !known.has(f.macAddress))
      .map((f) => buildInterface(current.id, f));
    for (const f of missing) known.add(f.macAddress);
    // A MAC this component already has, with IPv4 addresses the inventory lacks: they are added
    // (none is removed; an address is the operator's to retire).
    const widened = (item.interfaces ?? []).flatMap((f) => {
      const row = rows.get(f.macAddress);
      if (!row || row.componentId !== current.id) return [];
      const have = new Set(row.ipAddresses.map((a) => a.ipAddress));
      const more = (f.ipAddresses ?? []).filter((a) => !have.has(a.ipAddress));
      return more.length ? [{ row, more }] : [];
    });
    const changed = !sameComponent(current, next);
    if (!changed && missing.length === 0 && widened.length === 0) {
      out.unchanged.push(current.id);
      continue;
    }
    out.updated.push(current.id);
    out.interfacesAdded.push(...missing.map((f) => f.macAddress));
    for (const w of widened)
      out.ipAddressesAdded.push(...w.more.map((a) => `${w.row.macAddress} ${a.ipAddress}`));
    if (dryRun) continue;
    for (const { row, more } of widened)
      await guardedUpdate({
        what: "interface",
        id: row.id,
        wanted: undefined,
        read: () => stores.inventory.getInterface(row.id),
        change: (i) => {
          const have = new Set(i.ipAddresses.map((a) => a.ipAddress));
          const add = more
            .filter((a) => !have.has(a.ipAddress))
            .map((a) => ({ ipAddress: a.ipAddress, network: a.network ?? null }));
          return { ...i, ipAddresses: [...i.ipAddresses, ...add] };
        },
        write: (n, etag) => stores.inventory.updateInterface(n, etag),
      });
    if (changed)
      await guardedUpdate({
        what: "component",
        id: current.id,
        wanted: undefined,
        read: () => stores.inventory.getComponent(current.id),
        change: (c) => mergeDiscovered(c, item),
        write: (n, etag) => stores.inventory.updateComponent(n, etag),
      });
    for (const f of missing) await stores.inventory.createInterface(f);
  }

  const bmc = found.bmc;
  if (bmc.id !== undefined && bmc.type === "NodeBMC")
    out.bmcEndpoint = await upsertEndpoint(stores.power, target, address, bmc.id, dryRun);
  return out;
}

async function upsertEndpoint(
  power: PowerStore,
  target: Target,
  address: string,
  id: string,
  dryRun: boolean,
): Promise<"created" | "updated" | "unchanged"> {
  const wanted = {
    id,
    address: normalizeAddress(address) ?? address,
    credentialId: target.credentialId,
    auth: target.options.auth,
    insecure: target.options.insecure,
    site: target.site,
  };
  const current = await power.getBmc(id);
  if (!current) {
    if (!dryRun) await power.createBmc(wanted);
    return "created";
  }
  const s = current.spec;
  if (
    s.address === wanted.address &&
    s.credentialId === wanted.credentialId &&
    s.auth === wanted.auth &&
    s.insecure === wanted.insecure &&
    s.site === wanted.site
  )
    return "unchanged";
  if (!dryRun)
    await guardedUpdate({
      what: "BMC endpoint",
      id,
      wanted: undefined,
      read: () => power.getBmc(id),
      change: () => wanted,
      write: (n, etag) => power.updateBmc(n, etag),
    });
  return "updated";
}

/**
 * One address's result: what the scan found merged (see `mergeDiscovery`),
 * or why it failed. `found` is what the driver answered, or the error it
 * failed with; a merge the inventory refuses fails the address too.
 */
export async function addressResult(
  stores: { inventory: InventoryStore; power: PowerStore },
  target: Target,
  address: string,
  found: Found | { error: string },
  dryRun: boolean,
): Promise<AddressResult> {
  const result: AddressResult = {
    targetId: target.id,
    address,
    state: "ok",
    bmcId: null,
    ...nothingMerged(),
    problems: [],
    error: null,
  };
  if ("error" in found) return { ...result, state: "failed", error: found.error };
  result.bmcId = found.bmc.id ?? null;
  result.problems = found.problems;
  try {
    Object.assign(result, await mergeDiscovery(stores, target, address, found, dryRun));
  } catch (e) {
    result.state = "failed";
    result.error = errorText(e);
  }
  return result;
}

/** BMCs an agent reads at once within a scan; what they hold is merged one at a time, in order. */
export const DISCOVERY_READ_AHEAD = 8;

/** A scan's addresses in order: every address of every target, with its index in its target. */
export const addressesOf = (targets: readonly Target[]) =>
  targets.flatMap((target) => target.addresses.map((address, index) => ({ target, address, index })));

/** How a scan ends, from its results: failed only when every address failed. */
export function scanOutcome(results: readonly AddressResult[]): {
  state: "completed" | "failed";
  message: string;
} {
  const ok = results.filter((r) => r.state === "ok").length;
  const failed = results.length - ok;
  return {
    state: ok === 0 && failed > 0 ? "failed" : "completed",
    message: `${ok} address(es) scanned, ${failed} failed`,
  };
}

/** An ApiError from the inventory or power store names its fields: they say what clashed. */
export function errorText(e: unknown): string {
  if (e instanceof ApiError && e.errors?.length)
    return `${e.message}: ${e.errors.map((f) => `${f.field}: ${f.message}`).join("; ")}`;
  return (e as Error).message;
}
