/**
 * The pure part of `node provision`: what the flags ask for, and what
 * differs from what the API holds. The command (commands/node.ts) reads,
 * asks these functions what to change, and writes.
 */
import { parseXname } from "../../../shared/ids";
import { MAC_RULE, normalizeMac } from "../../../shared/mac";
import { CliError, EXIT } from "../../../shared/node/cli/errors";

/** The component fields `node provision` sets from flags (absent flags leave a field as it is). */
export interface WantedComponent {
  type?: string;
  role?: string;
  subRole?: string;
  nid?: number;
  /** Default: Populated for a new component or one that is Empty (decommissioned); others keep theirs. */
  state?: string;
}

/** The state provision gives a component that is Empty (new or decommissioned) when --state is absent. */
export const PROVISIONED_STATE = "Populated";

export interface WantedInterface {
  macAddress: string;
  /** Undefined: no --ip for this MAC (an existing interface keeps its addresses). */
  ipAddresses?: { ipAddress: string }[];
}

/** `--mac` and `--ip` paired by position; `--ip 10.0.0.1,10.1.0.1` gives one MAC two addresses. */
export function pairInterfaces(macs: readonly string[] = [], ips: readonly string[] = []): WantedInterface[] {
  if (ips.length > macs.length)
    throw new CliError(
      EXIT.usage,
      `${ips.length} --ip for ${macs.length} --mac: each --ip goes with the --mac at the same position`,
    );
  const seen = new Set<string>();
  return macs.map((raw, i) => {
    const mac = normalizeMac(raw);
    if (!mac) throw new CliError(EXIT.usage, `--mac '${raw}' is not ${MAC_RULE}`);
    if (seen.has(mac)) throw new CliError(EXIT.usage, `--mac ${mac} is given twice`);
    seen.add(mac);
    const ip = ips[i];
    if (ip === undefined) return { macAddress: mac };
    const list = ip
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean);
    return { macAddress: mac, ipAddresses: list.map((ipAddress) => ({ ipAddress })) };
  });
}

/**
 * The type a new component gets: the flag, else what an xname implies
 * (the server's rule: the body then leaves it out), else Node.
 */
export const typeFor = (id: string, type: string | undefined) =>
  type ?? (parseXname(id) ? undefined : "Node");

/** The type in words for a report: `NodeBMC` or `Node (from the xname)`. */
export const typeLabel = (id: string, type: string | undefined) =>
  typeFor(id, type) ?? `${parseXname(id)!.type} (from the xname)`;

/** The body that creates the component with its interfaces. */
export function componentCreateBody(id: string, want: WantedComponent, ifaces: WantedInterface[]) {
  const type = typeFor(id, want.type);
  return {
    id,
    ...(type ? { type } : {}),
    ...(want.role !== undefined ? { role: want.role } : {}),
    ...(want.subRole !== undefined ? { subRole: want.subRole } : {}),
    ...(want.nid !== undefined ? { nid: want.nid } : {}),
    state: want.state ?? PROVISIONED_STATE,
    ...(ifaces.length
      ? {
          interfaces: ifaces.map((f) => ({
            macAddress: f.macAddress,
            ...(f.ipAddresses ? { ipAddresses: f.ipAddresses } : {}),
          })),
        }
      : {}),
  };
}

/**
 * The fields of `want` that differ from `current` (a merge patch), empty
 * when none do. Without --state, an Empty component becomes Populated
 * (provision undoes decommission); other states are left to discovery.
 */
export function componentPatch(
  current: Record<string, unknown>,
  want: WantedComponent,
): Record<string, string | number> {
  const patch: Record<string, string | number> = {};
  for (const [k, v] of Object.entries(want) as [string, string | number | undefined][])
    if (v !== undefined && current[k] !== v) patch[k] = v;
  if (want.state === undefined && current.state === "Empty") patch.state = PROVISIONED_STATE;
  return patch;
}

/** `role: Compute, nid: 7` for a detail line. */
export const describeFields = (fields: Record<string, unknown>) =>
  Object.entries(fields)
    .map(([k, v]) => `${k}: ${v === null || v === "" ? "(none)" : String(v)}`)
    .join(", ");

/** Current interface as the API lists it. */
export interface CurrentInterface {
  id: string;
  componentId: string;
  macAddress: string;
  ipAddresses: { ipAddress: string; network?: string | null }[];
}

/** What to do for one wanted interface, given the interface the API has with that MAC (if any). */
export type InterfaceAction =
  | { kind: "create"; want: WantedInterface }
  | { kind: "set-ips"; id: string; want: WantedInterface }
  | { kind: "keep"; id: string }
  | { kind: "taken"; id: string; componentId: string; mac: string };

export function interfaceAction(
  componentId: string,
  want: WantedInterface,
  current: CurrentInterface | undefined,
): InterfaceAction {
  if (!current) return { kind: "create", want };
  if (current.componentId !== componentId)
    return { kind: "taken", id: current.id, componentId: current.componentId, mac: want.macAddress };
  if (!want.ipAddresses) return { kind: "keep", id: current.id };
  const have = current.ipAddresses.map((a) => a.ipAddress).join(",");
  const wanted = want.ipAddresses.map((a) => a.ipAddress).join(",");
  return have === wanted ? { kind: "keep", id: current.id } : { kind: "set-ips", id: current.id, want };
}

/** Boot parameters as provision writes them: a replace, so absent --initrd/--params mean empty. */
export interface WantedBootParams {
  kernelUri: string;
  initrdUri: string;
  cmdline: string;
}

/** The fields of the boot parameters that would change, empty when they already match. */
export function bootParamsChanges(
  current: { kernelUri: string; initrdUri: string; cmdline: string },
  want: WantedBootParams,
): string[] {
  return (["kernelUri", "initrdUri", "cmdline"] as const).filter((k) => current[k] !== want[k]);
}

/** The payload fields provision writes (user-data and meta-data; vendor-data is left alone). */
export interface WantedPayload {
  userData?: string;
  metaData?: Record<string, unknown>;
}

const canonical = (v: unknown): string =>
  JSON.stringify(v, (_k, x) =>
    x && typeof x === "object" && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x).sort(([a], [b]) => a.localeCompare(b)))
      : x,
  ) ?? "null";

/** The payload fields that would change; `undefined` in `want` means "not given": kept. */
export function payloadChanges(
  current: { userData: string | null; metaData: Record<string, unknown> | null },
  want: WantedPayload,
): string[] {
  const out: string[] = [];
  if (want.userData !== undefined && current.userData !== want.userData) out.push("userData");
  if (want.metaData !== undefined && canonical(current.metaData) !== canonical(want.metaData))
    out.push("metaData");
  return out;
}
