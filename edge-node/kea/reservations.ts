/**
 * What Kea should hold, worked out from the replica: pure functions, no I/O.
 *
 * One reservation per (interface, IPv4 address), in the `subnet4` whose
 * prefix contains the address, identified by hardware address as Kea does
 * within a subnet. Chamicore marks what it owns with
 * `user-context.chamicore` and never reads, changes or removes a
 * reservation without that mark.
 *
 * Hostname rule: the component id, lower-cased, when it is a valid host
 * name (letters, digits, '-' and '.', labels of 1–63 characters not
 * starting or ending with '-'); otherwise none. Every interface of a
 * component carries the same host name.
 */
import { normalizeMac } from "../../shared/mac";

/** An interface of the inventory with its addresses, as the replica holds it. */
export interface DhcpHost {
  componentId: string;
  interfaceId: string;
  mac: string;
  addresses: string[];
}

/** A `subnet4` entry of Kea's configuration (top level or inside a shared network). */
export interface KeaSubnet {
  id: number;
  subnet: string;
}

/** The fields Chamicore writes; Kea answers with more (defaults), which are ignored when comparing. */
export interface KeaReservation {
  "hw-address": string;
  "ip-address": string;
  hostname?: string;
  "user-context": { chamicore: { component: string; interface: string } };
  [other: string]: unknown;
}

/** `<subnet id>/<MAC>`: what identifies a reservation in Kea. */
export type ReservationKey = string;

export const keyOf = (subnetId: number, mac: string): ReservationKey => `${subnetId}/${mac}`;

export interface Placed {
  subnetId: number;
  reservation: KeaReservation;
}

export type ProblemReason =
  | "outside-subnets"
  | "not-a-host-address"
  | "duplicate-address"
  | "second-address-in-subnet"
  | "refused";

export interface ReservationProblem {
  reason: ProblemReason;
  componentId: string;
  interfaceId: string;
  mac: string;
  address: string;
  detail: string;
}

const LABEL = /^(?!-)[a-z0-9-]{1,63}(?<!-)$/;

export function hostnameFor(componentId: string): string | undefined {
  const h = componentId.toLowerCase();
  return h.length <= 253 && h.split(".").every((l) => LABEL.test(l)) ? h : undefined;
}

const IPV4 = /^(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)(\.(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)){3}$/;

/** A dotted quad as an unsigned 32-bit number, or undefined. */
function ipv4(s: string): number | undefined {
  if (!IPV4.test(s)) return undefined;
  return s.split(".").reduce((n, octet) => n * 256 + Number(octet), 0);
}

interface Prefix {
  subnet: KeaSubnet;
  network: number;
  /** Addresses in the prefix. */
  size: number;
}

/** Kea's IPv4 subnets as numeric ranges (entries that do not parse, e.g. IPv6, are skipped). */
function prefixesOf(subnets: readonly KeaSubnet[]): Prefix[] {
  return subnets.flatMap((subnet) => {
    const [addr, len] = subnet.subnet.split("/");
    const base = ipv4(addr ?? "");
    const bits = Number(len);
    if (base === undefined || !Number.isInteger(bits) || bits < 0 || bits > 32) return [];
    const size = 2 ** (32 - bits);
    return [{ subnet, network: base - (base % size), size }];
  });
}

/** Whether Kea's reservation carries Chamicore's mark. */
export function isOwned(r: unknown): boolean {
  const ctx = (r as { "user-context"?: { chamicore?: unknown } } | null)?.["user-context"];
  return typeof ctx?.chamicore === "object" && ctx.chamicore !== null;
}

/**
 * The reservations the inventory asks for, keyed by subnet and MAC, and
 * what cannot be placed. Deterministic: hosts are taken in interface-id
 * order, so when two interfaces claim one address the lower id keeps it.
 */
export function planReservations(
  hosts: readonly DhcpHost[],
  subnets: readonly KeaSubnet[],
): { desired: Map<ReservationKey, Placed>; problems: ReservationProblem[] } {
  const desired = new Map<ReservationKey, Placed>();
  const problems: ReservationProblem[] = [];
  const byAddress = new Map<string, DhcpHost>();
  const prefixes = prefixesOf(subnets);
  const sorted = [...hosts].sort((a, b) =>
    a.interfaceId < b.interfaceId ? -1 : a.interfaceId > b.interfaceId ? 1 : 0,
  );
  for (const host of sorted) {
    const mac = normalizeMac(host.mac);
    if (!mac) continue;
    for (const address of host.addresses) {
      const n = ipv4(address);
      if (n === undefined) continue; // DHCPv4 only; IPv6 addresses are not kea-dhcp4's
      const problem = (reason: ProblemReason, detail: string) =>
        problems.push({
          reason,
          componentId: host.componentId,
          interfaceId: host.interfaceId,
          mac,
          address,
          detail,
        });
      const owner = byAddress.get(address);
      if (owner) {
        problem("duplicate-address", `${address} is also the address of ${owner.componentId} (${owner.mac})`);
        continue;
      }
      const prefix = prefixes.find((p) => n >= p.network && n < p.network + p.size);
      if (!prefix) {
        problem("outside-subnets", `${address} is in none of Kea's subnets`);
        continue;
      }
      const subnet = prefix.subnet;
      // Kea accepts these in a reservation, but no host can use them (/31 and /32 have no such addresses).
      if (prefix.size >= 4 && (n === prefix.network || n === prefix.network + prefix.size - 1)) {
        problem(
          "not-a-host-address",
          `${address} is the ${n === prefix.network ? "network" : "broadcast"} address of ${subnet.subnet}`,
        );
        continue;
      }
      const key = keyOf(subnet.id, mac);
      const taken = desired.get(key);
      if (taken) {
        problem(
          "second-address-in-subnet",
          `${mac} already has ${taken.reservation["ip-address"]} in subnet ${subnet.subnet}; Kea reserves one address per MAC and subnet`,
        );
        continue;
      }
      byAddress.set(address, host);
      const hostname = hostnameFor(host.componentId);
      desired.set(key, {
        subnetId: subnet.id,
        reservation: {
          "hw-address": mac,
          "ip-address": address,
          ...(hostname ? { hostname } : {}),
          "user-context": { chamicore: { component: host.componentId, interface: host.interfaceId } },
        },
      });
    }
  }
  return { desired, problems };
}

/** Whether Kea's copy says what Chamicore wants (Kea's defaults for other fields are ignored). */
export function sameReservation(inKea: KeaReservation, wanted: KeaReservation): boolean {
  const a = inKea["user-context"]?.chamicore;
  const b = wanted["user-context"].chamicore;
  return (
    normalizeMac(String(inKea["hw-address"] ?? "")) === wanted["hw-address"] &&
    inKea["ip-address"] === wanted["ip-address"] &&
    (inKea.hostname || undefined) === wanted.hostname &&
    a?.component === b.component &&
    a?.interface === b.interface
  );
}

/** A change to make in Kea: `put` a reservation at `key`, or remove Chamicore's one there. */
export interface ReservationChange {
  key: ReservationKey;
  subnetId: number;
  mac: string;
  put?: KeaReservation;
}

/**
 * The changes that turn `current` (Chamicore's reservations in Kea) into
 * `desired`. Keys in `hold` (refused recently, waiting to be retried) are
 * left as Kea has them. Removals come first, so that an address moving
 * between MACs is free when it is taken.
 */
export function diffReservations(
  current: ReadonlyMap<ReservationKey, Placed>,
  desired: ReadonlyMap<ReservationKey, Placed>,
  hold: ReadonlySet<ReservationKey> = new Set(),
): ReservationChange[] {
  const removals: ReservationChange[] = [];
  const puts: ReservationChange[] = [];
  for (const [key, p] of current)
    if (!desired.has(key) && !hold.has(key))
      removals.push({ key, subnetId: p.subnetId, mac: p.reservation["hw-address"] });
  for (const [key, p] of desired) {
    if (hold.has(key)) continue;
    const now = current.get(key);
    if (!now || !sameReservation(now.reservation, p.reservation))
      puts.push({ key, subnetId: p.subnetId, mac: p.reservation["hw-address"], put: p.reservation });
  }
  return [...removals, ...puts];
}
