/**
 * How reservations reach Kea. Two ways, picked at start by `detectStrategy`:
 *
 * - `host_cmds`: Kea answers `reservation-add` (the hook is loaded) and
 *   keeps hosts in a database (`hosts-database(s)`, where the hook writes).
 *   One command per change; a refusal concerns only that change.
 * - `config`: otherwise (Debian's Kea 2.2 ships no host_cmds). The whole
 *   configuration goes round: `config-get`, Chamicore's reservations
 *   changed in it, `config-test`, `config-set`, `config-write`. A refused
 *   test is narrowed down by bisection to the changes Kea objects to; the
 *   rest go in. Nothing reaches `config-set` untested: a refused
 *   `config-set` would leave kea-dhcp4 answering no clients.
 *
 * Either way, only reservations marked as Chamicore's are changed or
 * removed, and changes to one subnet never move another's.
 */

import { normalizeMac } from "../../shared/mac";
import { KEA_EMPTY, KEA_SUCCESS, type KeaClient, KeaCommandError } from "./client";
import {
  isOwned,
  type KeaReservation,
  type KeaSubnet,
  keyOf,
  type Placed,
  type ReservationChange,
  type ReservationKey,
} from "./reservations";

/** What Kea holds that matters to the sync. */
export interface KeaState {
  subnets: KeaSubnet[];
  /** Chamicore's reservations, by subnet and MAC. */
  owned: Map<ReservationKey, Placed>;
}

export interface WriteResult {
  applied: ReservationChange[];
  refused: { change: ReservationChange; text: string }[];
  /** Kea's state after the write, as far as this write knows it. */
  state: KeaState;
}

export interface KeaStrategy {
  readonly name: "host_cmds" | "config";
  read(): Promise<KeaState>;
  write(changes: ReservationChange[], state: KeaState): Promise<WriteResult>;
  /** Whether Kea's running configuration still has to be written to its file (config strategy only). */
  readonly unsaved: boolean;
  save(): Promise<void>;
}

type Dhcp4 = Record<string, unknown> & {
  subnet4?: SubnetEntry[];
  "shared-networks"?: { subnet4?: SubnetEntry[] }[];
  "hosts-database"?: unknown;
  "hosts-databases"?: unknown[];
};
type SubnetEntry = { id: number; subnet: string; reservations?: KeaReservation[] };

/** Every subnet4 entry, including those inside shared networks. */
function subnetEntries(dhcp4: Dhcp4): SubnetEntry[] {
  return [...(dhcp4.subnet4 ?? []), ...(dhcp4["shared-networks"] ?? []).flatMap((n) => n.subnet4 ?? [])];
}

function stateOf(dhcp4: Dhcp4): KeaState {
  const owned = new Map<ReservationKey, Placed>();
  const entries = subnetEntries(dhcp4);
  for (const s of entries)
    for (const r of s.reservations ?? []) {
      const mac = normalizeMac(String(r["hw-address"] ?? ""));
      if (isOwned(r) && mac)
        owned.set(keyOf(s.id, mac), { subnetId: s.id, reservation: { ...r, "hw-address": mac } });
    }
  return { subnets: entries.map((s) => ({ id: s.id, subnet: s.subnet })), owned };
}

async function getConfig(kea: KeaClient): Promise<Dhcp4> {
  const args = await kea.call<{ Dhcp4?: Dhcp4 }>("config-get");
  if (!args?.Dhcp4) throw new KeaCommandError("config-get", 1, "the answer holds no Dhcp4 configuration");
  return args.Dhcp4;
}

/** Picks the strategy this Kea supports (see the module comment). */
export async function detectStrategy(kea: KeaClient): Promise<KeaStrategy> {
  const commands = (await kea.call<string[]>("list-commands")) ?? [];
  if (commands.includes("reservation-add")) {
    const dhcp4 = await getConfig(kea);
    if (dhcp4["hosts-database"] || (dhcp4["hosts-databases"]?.length ?? 0) > 0)
      return new HostCmdsStrategy(kea);
  }
  return new ConfigStrategy(kea);
}

/** A copy of `dhcp4` with `changes` made to Chamicore's reservations (others untouched). */
export function applyChanges(dhcp4: Dhcp4, changes: readonly ReservationChange[]): Dhcp4 {
  const bySubnet = new Map<number, ReservationChange[]>();
  for (const c of changes) {
    const list = bySubnet.get(c.subnetId);
    if (list) list.push(c);
    else bySubnet.set(c.subnetId, [c]);
  }
  const edit = (s: SubnetEntry): SubnetEntry => {
    const mine = bySubnet.get(s.id);
    if (!mine) return s;
    const touched = new Map(mine.map((c) => [c.mac, c]));
    const kept = (s.reservations ?? []).filter((r) => {
      if (!isOwned(r)) return true;
      return !touched.has(normalizeMac(String(r["hw-address"] ?? "")) ?? "");
    });
    const puts = mine.flatMap((c) => (c.put ? [c.put] : []));
    return { ...s, reservations: [...kept, ...puts] };
  };
  return {
    ...dhcp4,
    ...(dhcp4.subnet4 ? { subnet4: dhcp4.subnet4.map(edit) } : {}),
    ...(dhcp4["shared-networks"]
      ? {
          "shared-networks": dhcp4["shared-networks"].map((n) =>
            n.subnet4 ? { ...n, subnet4: n.subnet4.map(edit) } : n,
          ),
        }
      : {}),
  };
}

export class ConfigStrategy implements KeaStrategy {
  readonly name = "config";
  unsaved = false;

  constructor(private readonly kea: KeaClient) {}

  async read(): Promise<KeaState> {
    return stateOf(await getConfig(this.kea));
  }

  async write(changes: ReservationChange[]): Promise<WriteResult> {
    const fresh = await getConfig(this.kea);
    const known = new Set(subnetEntries(fresh).map((s) => s.id));
    const refused: WriteResult["refused"] = [];
    const usable = changes.filter((c) => {
      if (known.has(c.subnetId)) return true;
      refused.push({ change: c, text: `subnet ${c.subnetId} is no longer in Kea's configuration` });
      return false;
    });
    const removals = usable.filter((c) => !c.put);
    const base = applyChanges(fresh, removals);
    const { accepted, refused: byKea } = await this.accept(
      base,
      usable.filter((c) => c.put),
    );
    refused.push(...byKea);
    const applied = [...removals, ...accepted];
    const next = applyChanges(base, accepted);
    if (applied.length > 0) {
      const set = await this.kea.send("config-set", { Dhcp4: next });
      if (set.result !== KEA_SUCCESS) {
        // Tested yet refused: kea-dhcp4 may now be serving nobody. Put back what it ran before.
        await this.kea.send("config-set", { Dhcp4: fresh }).catch(() => undefined);
        throw new KeaCommandError("config-set", set.result, set.text ?? "");
      }
      this.unsaved = true;
      await this.save();
    }
    return { applied, refused, state: stateOf(next) };
  }

  async save(): Promise<void> {
    if (!this.unsaved) return;
    await this.kea.call("config-write", {});
    this.unsaved = false;
  }

  private async test(dhcp4: Dhcp4): Promise<string | undefined> {
    const a = await this.kea.send("config-test", { Dhcp4: dhcp4 });
    return a.result === KEA_SUCCESS ? undefined : a.text || `config-test result ${a.result}`;
  }

  /** The largest set of `puts` Kea accepts on top of `base`, found by bisection on refusal. */
  private async accept(
    base: Dhcp4,
    puts: ReservationChange[],
    knownBad?: string,
  ): Promise<{ accepted: ReservationChange[]; refused: WriteResult["refused"] }> {
    if (puts.length === 0) return { accepted: [], refused: [] };
    const text = knownBad ?? (await this.test(applyChanges(base, puts)));
    if (text === undefined) return { accepted: puts, refused: [] };
    if (puts.length === 1) return { accepted: [], refused: [{ change: puts[0]!, text }] };
    const half = Math.ceil(puts.length / 2);
    const left = await this.accept(base, puts.slice(0, half));
    const right = await this.accept(applyChanges(base, left.accepted), puts.slice(half));
    return { accepted: [...left.accepted, ...right.accepted], refused: [...left.refused, ...right.refused] };
  }
}

type Host = KeaReservation & { "subnet-id"?: number };

export class HostCmdsStrategy implements KeaStrategy {
  readonly name = "host_cmds";
  readonly unsaved = false;

  constructor(private readonly kea: KeaClient) {}

  async read(): Promise<KeaState> {
    const dhcp4 = await getConfig(this.kea);
    const subnets = subnetEntries(dhcp4).map((s) => ({ id: s.id, subnet: s.subnet }));
    const owned = new Map<ReservationKey, Placed>();
    for (const s of subnets) {
      const hosts = (
        await this.kea.call<{ hosts?: Host[] }>("reservation-get-all", { "subnet-id": s.id }, true)
      )?.hosts;
      for (const h of hosts ?? []) {
        const mac = normalizeMac(String(h["hw-address"] ?? ""));
        if (!isOwned(h) || !mac) continue;
        const { "subnet-id": _, ...reservation } = h;
        owned.set(keyOf(s.id, mac), { subnetId: s.id, reservation: { ...reservation, "hw-address": mac } });
      }
    }
    return { subnets, owned };
  }

  async write(changes: ReservationChange[], state: KeaState): Promise<WriteResult> {
    const owned = new Map(state.owned);
    const applied: ReservationChange[] = [];
    const refused: WriteResult["refused"] = [];
    for (const c of changes) {
      const before = owned.get(c.key);
      if (before || !c.put) {
        const a = await this.kea.send("reservation-del", {
          "subnet-id": c.subnetId,
          "identifier-type": "hw-address",
          identifier: c.mac,
        });
        if (a.result !== KEA_SUCCESS && a.result !== KEA_EMPTY) {
          refused.push({ change: c, text: a.text || `reservation-del result ${a.result}` });
          continue;
        }
        owned.delete(c.key);
      }
      if (c.put) {
        const a = await this.kea.send("reservation-add", {
          reservation: { ...c.put, "subnet-id": c.subnetId },
        });
        if (a.result !== KEA_SUCCESS) {
          refused.push({ change: c, text: a.text || `reservation-add result ${a.result}` });
          // Put back what was there: the node keeps its old reservation rather than none.
          if (before) {
            const back = await this.kea.send("reservation-add", {
              reservation: { ...before.reservation, "subnet-id": c.subnetId },
            });
            if (back.result === KEA_SUCCESS) owned.set(c.key, before);
          }
          continue;
        }
        owned.set(c.key, { subnetId: c.subnetId, reservation: c.put });
      }
      applied.push(c);
    }
    return { applied, refused, state: { subnets: state.subnets, owned } };
  }

  async save(): Promise<void> {}
}
