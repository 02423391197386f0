/**
 * The boot script's read port held in memory: MAC, component id and nid →
 * node, and each node's candidate params, parsed from their envelopes once
 * per version instead of on every request. It answers exactly what the SQL
 * port over the same rows answers (ReplicaBootStore in ./read-stores.ts):
 * the same node for a MAC, the same nodes by nid in the same order, the same
 * candidates — the parity test (tests/unit/boot-index.test.ts) holds it to that.
 *
 * The replica keeps it: loaded when the replica opens, reloaded after a
 * snapshot or a reset, and refreshed from the rows an event batch touched,
 * each time right after the batch's transaction commits and in the same
 * synchronous call. JavaScript runs one thing at a time, so no request is
 * answered between the commit and the refresh: a read sees the state before
 * a batch or after it, never part of one. A batch that throws rolls back and
 * leaves the index as it was.
 *
 * Memory, at 50,000 nodes about 18 MiB of heap: one node object per
 * component, one small record per interface and per params row, and only
 * the params' spec (not the envelope). A role's or the default's params are
 * one object, shared by every node they apply to. Strings are compared as JavaScript compares
 * them, which orders ids (ASCII) as SQLite's bytewise text comparison does.
 */
import type { BootParams } from "../../functions/boot/schemas";
import type { BootNode, BootReadStore, ParamsCandidates } from "../../functions/boot/store";
import type { Role } from "../../shared/enums";
import type { ChangeEvent } from "../../shared/events";
import { add, type Bucket, byId, each, type Paged, paged, pageOf, remove } from "./buckets";
import { specOf } from "./read-stores";
import type { SqliteDatabase, SqliteStatement } from "./sqlite";

interface NodeRow {
  id: string;
  nid: number | null;
  role: string | null;
  enabled: number;
}
interface InterfaceRow {
  id: string;
  component_id: string;
  mac_address: string;
}
interface ParamsRow {
  id: string;
  component_id: string | null;
  role: string | null;
  is_default: number;
  doc: string;
}

/** An interface as the MAC lookup needs it. */
interface Iface {
  readonly id: string;
  readonly mac: string;
  readonly componentId: string;
}

type Category = keyof ParamsCandidates;

/** A params row: where the SQL port's query finds it, which candidate it is, and its parsed spec. */
interface Params {
  readonly id: string;
  readonly componentId: string | null;
  readonly role: string | null;
  readonly isDefault: boolean;
  /** As the SQL port classifies a row it found: by component first, then role, else default. */
  readonly category: Category;
  readonly spec: BootParams;
}

/** Shared between requests, as the params are: handlers read what a store gives them and change nothing. */
const nodeOf = (r: NodeRow): BootNode => ({
  id: r.id,
  nid: r.nid,
  role: r.role === null ? null : (internedRole(r.role) as Role),
  enabled: r.enabled === 1,
});

/** One string per role, not one per node. */
const roles = new Map<string, string>();
function internedRole(role: string): string {
  const known = roles.get(role);
  if (known !== undefined) return known;
  if (roles.size < 1000) roles.set(role, role);
  return role;
}

function paramsOf(r: ParamsRow): Params {
  return {
    id: r.id,
    componentId: r.component_id,
    role: r.role,
    isDefault: r.is_default === 1,
    category: r.component_id !== null ? "component" : r.role !== null ? "role" : "default",
    // Frozen: decideBoot checks a frozen params object once, not on every request (functions/boot/resolve.ts).
    spec: Object.freeze(specOf<BootParams>(r.doc)),
  };
}

/** The event types whose rows the index holds, by their `resource` segment. */
const INDEXED: Record<string, "components" | "interfaces" | "bootparams"> = {
  "smd.components": "components",
  "smd.interfaces": "interfaces",
  "bss.bootparams": "bootparams",
};

export class BootIndex implements BootReadStore {
  private nodes = new Map<string, BootNode>();
  /** Sorted by id within a nid, as `order by id` has them. */
  private nids = new Map<number, Bucket<BootNode>>();
  private ifaces = new Map<string, Iface>();
  private macs = new Map<string, Bucket<Iface>>();
  private params = new Map<string, Params>();
  private paramsByComponent = new Map<string, Bucket<Params>>();
  private paramsByRole = new Map<string, Bucket<Params>>();
  private defaults: Params[] = [];

  private readonly read: {
    nodes: SqliteStatement<[number, number], NodeRow & Paged>;
    ifaces: SqliteStatement<[number, number], InterfaceRow & Paged>;
    params: SqliteStatement<[number, number], ParamsRow & Paged>;
    node: SqliteStatement<[string], NodeRow>;
    iface: SqliteStatement<[string], InterfaceRow>;
    param: SqliteStatement<[string], ParamsRow>;
  };

  /** Prepares its reads on the replica's database and loads what it holds. */
  constructor(db: SqliteDatabase, load = true) {
    const nodeCols = "select id, nid, role, enabled from components";
    const ifaceCols = "select id, component_id, mac_address from interfaces";
    const paramsCols = "select id, component_id, role, is_default, doc from boot_params";
    const page = (cols: string) => pageOf(db, cols);
    this.read = {
      nodes: page(nodeCols),
      ifaces: page(ifaceCols),
      params: page(paramsCols),
      node: db.prepare(`${nodeCols} where id = ?`),
      iface: db.prepare(`${ifaceCols} where id = ?`),
      param: db.prepare(`${paramsCols} where id = ?`),
    };
    if (load) this.reload();
  }

  /** Everything again from the tables: at open, and after a snapshot or a reset. */
  reload(): void {
    this.nodes = new Map();
    this.nids = new Map();
    this.ifaces = new Map();
    this.macs = new Map();
    this.params = new Map();
    this.paramsByComponent = new Map();
    this.paramsByRole = new Map();
    this.defaults = [];
    paged(this.read.nodes, (r) => this.putNode(nodeOf(r)));
    for (const bucket of this.nids.values()) if (Array.isArray(bucket)) bucket.sort(byId);
    paged(this.read.ifaces, (r) => this.putIface(r));
    paged(this.read.params, (r) => this.putParams(paramsOf(r)));
  }

  /**
   * Re-reads the rows a committed batch of events may have changed (its
   * components, interfaces and boot params, applied or skipped alike).
   * Events of other resources, and of types the replica refused, are passed over.
   */
  refresh(events: readonly Pick<ChangeEvent, "type" | "subject">[]): void {
    for (const e of events) {
      const id = e.subject;
      if (typeof id !== "string" || typeof e.type !== "string") continue;
      const [prefix, service, resource] = e.type.split(".", 3);
      const what = prefix === "chamicore" ? INDEXED[`${service}.${resource}`] : undefined;
      if (what === "components") this.refreshNode(id);
      else if (what === "interfaces") this.refreshIface(id);
      else if (what === "bootparams") this.refreshParams(id);
    }
  }

  async nodeByMac(mac: string): Promise<BootNode | undefined> {
    const b = this.macs.get(mac);
    if (b === undefined) return undefined;
    if (!Array.isArray(b)) return this.nodes.get(b.componentId);
    // Only while a MAC moves between interfaces: the SQL port's index on (mac, component) gives the lowest.
    let found: BootNode | undefined;
    for (const i of b) {
      const n = this.nodes.get(i.componentId);
      if (n && (!found || n.id < found.id)) found = n;
    }
    return found;
  }

  async nodeById(id: string): Promise<BootNode | undefined> {
    return this.nodes.get(id);
  }

  async nodesByNid(nid: number, limit: number): Promise<BootNode[]> {
    return each(this.nids.get(nid)).slice(0, Math.max(0, limit));
  }

  /** Every params row's spec: what the artifact cache mirrors (edge-node/artifacts/wanted.ts). */
  *allParams(): Iterable<BootParams> {
    for (const p of this.params.values()) yield p.spec;
  }

  async paramsFor(componentId: string, role: Role | null): Promise<ParamsCandidates> {
    const out: ParamsCandidates = {};
    const own = this.paramsByComponent.get(componentId);
    const ofRole = role === null ? undefined : this.paramsByRole.get(role);
    // The usual rows: one per target, each found only through its own target.
    if (
      (own === undefined || (!Array.isArray(own) && !own.isDefault)) &&
      (ofRole === undefined || (!Array.isArray(ofRole) && ofRole.category === "role" && !ofRole.isDefault)) &&
      this.defaults.length <= 1 &&
      (this.defaults.length === 0 || this.defaults[0]!.category === "default")
    ) {
      if (own) out.component = own.spec;
      if (ofRole) out.role = ofRole.spec;
      if (this.defaults[0]) out.default = this.defaults[0].spec;
      return out;
    }
    return this.unusualParams(own, ofRole);
  }

  /**
   * Rows the control plane never writes (two params for one target, a row
   * with two targets) can still be in the replica between two pages of a
   * feed. The SQL port takes every row matching the component, the role or
   * the default, classifies each by its first set target, and keeps one per
   * class; where it would keep one of several, the index keeps the highest id.
   */
  private unusualParams(own: Bucket<Params> | undefined, ofRole: Bucket<Params> | undefined) {
    const best: Partial<Record<Category, Params>> = {};
    for (const p of new Set([...each(own), ...each(ofRole), ...this.defaults])) {
      const kept = best[p.category];
      if (!kept || p.id > kept.id) best[p.category] = p;
    }
    const out: ParamsCandidates = {};
    if (best.component) out.component = best.component.spec;
    if (best.role) out.role = best.role.spec;
    if (best.default) out.default = best.default.spec;
    return out;
  }

  private putNode(n: BootNode) {
    this.nodes.set(n.id, n);
    if (n.nid !== null) add(this.nids, n.nid, n);
  }

  private refreshNode(id: string) {
    const old = this.nodes.get(id);
    if (old) {
      this.nodes.delete(id);
      if (old.nid !== null) remove(this.nids, old.nid, old);
    }
    const r = this.read.node.get(id);
    if (!r) return;
    const n = nodeOf(r);
    this.putNode(n);
    const bucket = n.nid === null ? undefined : this.nids.get(n.nid);
    if (Array.isArray(bucket)) bucket.sort(byId);
  }

  private putIface(r: InterfaceRow) {
    // The node's own id string, where it is loaded: one copy of each id instead of two.
    const componentId = this.nodes.get(r.component_id)?.id ?? r.component_id;
    const i: Iface = { id: r.id, mac: r.mac_address, componentId };
    this.ifaces.set(i.id, i);
    add(this.macs, i.mac, i);
  }

  private refreshIface(id: string) {
    const old = this.ifaces.get(id);
    if (old) {
      this.ifaces.delete(id);
      remove(this.macs, old.mac, old);
    }
    const r = this.read.iface.get(id);
    if (r) this.putIface(r);
  }

  private putParams(p: Params) {
    this.params.set(p.id, p);
    if (p.componentId !== null) add(this.paramsByComponent, p.componentId, p);
    if (p.role !== null) add(this.paramsByRole, p.role, p);
    if (p.isDefault) this.defaults.push(p);
  }

  private refreshParams(id: string) {
    const old = this.params.get(id);
    if (old) {
      this.params.delete(id);
      if (old.componentId !== null) remove(this.paramsByComponent, old.componentId, old);
      if (old.role !== null) remove(this.paramsByRole, old.role, old);
      if (old.isDefault) this.defaults = this.defaults.filter((p) => p !== old);
    }
    const r = this.read.param.get(id);
    if (r) this.putParams(paramsOf(r));
  }
}
