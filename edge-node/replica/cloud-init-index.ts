/**
 * cloud-init serving's read port for the edge: the payloads held in memory
 * by target, each parsed from its envelope once per version, and the nodes
 * looked up in SQLite (./read-stores.ts) but remembered for a while. In a
 * cloud-init storm every node asks three times within moments, so the
 * second and third documents find the caller's node in memory; the SQL
 * round trips and the JSON parses per document were most of a document's
 * cost. Nodes are remembered rather than all held: at 50,000 nodes, every
 * node's interfaces, addresses and groups in memory took 40 MiB of heap,
 * against the edge's memory budget.
 *
 * It answers exactly what the SQL port over the same rows answers (the
 * parity test, tests/unit/cloud-init-index.test.ts, holds it to that): the
 * replica reloads it after a snapshot or a reset, and refreshes it from
 * the rows an event batch touched in the same synchronous call as the
 * batch's commit — forgetting every remembered node when the batch touched
 * a component, an interface or a group — so a request sees a batch whole
 * or not at all.
 *
 * Payloads are frozen and shared by every request (and every node of their
 * role or group), which is also what lets the merged user-data of a role be
 * rendered once (functions/cloud-init/merge.ts).
 */
import type { Payload } from "../../functions/cloud-init/schemas";
import type { CloudInitReadStore, NodeFacts } from "../../functions/cloud-init/store";
import type { ChangeEvent } from "../../shared/events";
import { add, type Bucket, byId, each, type Paged, paged, pageOf, remove } from "./buckets";
import { ReplicaCloudInitStore, specOf } from "./read-stores";
import type { SqliteDatabase, SqliteStatement } from "./sqlite";

interface PayloadRow {
  id: string;
  doc: string;
}

/** The event types the index follows, by their `service.resource` segments: payloads, and what a node's facts are made of. */
const FOLLOWED: Record<string, "payloads" | "nodes"> = {
  "cloudinit.payloads": "payloads",
  "smd.components": "nodes",
  "smd.interfaces": "nodes",
  "smd.groups": "nodes",
};

/** Facts handed to every request that asks until forgotten: nobody may change them. */
function frozen(n: NodeFacts | undefined): NodeFacts | undefined {
  if (n === undefined) return n;
  Object.freeze(n.groups);
  for (const i of n.interfaces) Object.freeze(i);
  Object.freeze(n.interfaces);
  return Object.freeze(n);
}

/** Lookups remembered, of each kind, before the memory starts again: a storm's nodes ask within moments. */
const REMEMBERED = 4096;

/** A map that forgets everything once it holds `REMEMBERED` keys: cheaper than tracking each key's use. */
class Memo<V> {
  private readonly m = new Map<string, V>();
  get(k: string): V | undefined {
    return this.m.get(k);
  }
  has(k: string): boolean {
    return this.m.has(k);
  }
  set(k: string, v: V): V {
    if (this.m.size >= REMEMBERED) this.m.clear();
    this.m.set(k, v);
    return v;
  }
  clear() {
    this.m.clear();
  }
}

export class CloudInitIndex implements CloudInitReadStore {
  private readonly sql: ReplicaCloudInitStore;
  private readonly byId = new Memo<NodeFacts | undefined>();
  private readonly byMac = new Memo<NodeFacts | undefined>();
  private readonly byAddress = new Memo<string[]>();

  private payloads = new Map<string, Payload>();
  private payloadsByComponent = new Map<string, Bucket<Payload>>();
  private payloadsByGroup = new Map<string, Bucket<Payload>>();
  private payloadsByRole = new Map<string, Bucket<Payload>>();

  private readonly read: {
    payloads: SqliteStatement<[number, number], PayloadRow & Paged>;
    payload: SqliteStatement<[string], PayloadRow>;
  };

  /** Prepares its reads on the replica's database and loads the payloads it holds. */
  constructor(db: SqliteDatabase, load = true) {
    this.sql = new ReplicaCloudInitStore(db);
    const payloadCols = "select id, doc from payloads";
    this.read = {
      payloads: pageOf(db, payloadCols),
      payload: db.prepare(`${payloadCols} where id = ?`),
    };
    if (load) this.reload();
  }

  /** Everything again from the tables: at open, and after a snapshot or a reset. */
  reload(): void {
    this.forgetNodes();
    this.payloads = new Map();
    this.payloadsByComponent = new Map();
    this.payloadsByGroup = new Map();
    this.payloadsByRole = new Map();
    paged(this.read.payloads, (r) => this.putPayload(r));
  }

  /**
   * Re-reads the payloads a committed batch of events may have changed, and
   * forgets the nodes when it touched any component, interface or group
   * (applied or skipped alike).
   */
  refresh(events: readonly Pick<ChangeEvent, "type" | "subject">[]): void {
    let nodes = false;
    for (const e of events) {
      const id = e.subject;
      if (typeof id !== "string" || typeof e.type !== "string") continue;
      const [prefix, service, resource] = e.type.split(".", 3);
      const what = prefix === "chamicore" ? FOLLOWED[`${service}.${resource}`] : undefined;
      if (what === "payloads") this.refreshPayload(id);
      else if (what === "nodes") nodes = true;
    }
    if (nodes) this.forgetNodes();
  }

  async nodeById(id: string): Promise<NodeFacts | undefined> {
    return this.byId.has(id) ? this.byId.get(id) : this.byId.set(id, frozen(await this.sql.nodeById(id)));
  }

  async nodeByMac(mac: string): Promise<NodeFacts | undefined> {
    return this.byMac.has(mac)
      ? this.byMac.get(mac)
      : this.byMac.set(mac, frozen(await this.sql.nodeByMac(mac)));
  }

  async componentsWithAddress(address: string): Promise<string[]> {
    const known = this.byAddress.get(address);
    // A copy: the caller may keep or change what it is given.
    return [...(known ?? this.byAddress.set(address, await this.sql.componentsWithAddress(address)))];
  }

  async payloadsFor(target: {
    componentId: string;
    groups: string[];
    role: string | null;
  }): Promise<Payload[]> {
    const own = this.payloadsByComponent.get(target.componentId);
    const ofRole = target.role === null ? undefined : this.payloadsByRole.get(target.role);
    // The usual case: one payload for the role and none for the groups or the node itself.
    if (own === undefined && target.groups.length === 0 && (ofRole === undefined || !Array.isArray(ofRole)))
      return ofRole === undefined ? [] : [ofRole];
    const found = new Set<Payload>([...each(own), ...each(ofRole)]);
    for (const g of target.groups) for (const p of each(this.payloadsByGroup.get(g))) found.add(p);
    return [...found].sort(byId);
  }

  private forgetNodes() {
    this.byId.clear();
    this.byMac.clear();
    this.byAddress.clear();
  }

  private putPayload(r: PayloadRow) {
    const p = Object.freeze(specOf<Payload>(r.doc));
    this.payloads.set(r.id, p);
    // Its targets as the writer stores them in the row's columns (an absent one is null).
    if (p.componentId != null) add(this.payloadsByComponent, p.componentId, p);
    if (p.group != null) add(this.payloadsByGroup, p.group, p);
    if (p.role != null) add(this.payloadsByRole, p.role, p);
  }

  private refreshPayload(id: string) {
    const old = this.payloads.get(id);
    if (old) {
      this.payloads.delete(id);
      if (old.componentId != null) remove(this.payloadsByComponent, old.componentId, old);
      if (old.group != null) remove(this.payloadsByGroup, old.group, old);
      if (old.role != null) remove(this.payloadsByRole, old.role, old);
    }
    const r = this.read.payload.get(id);
    if (r) this.putPayload(r);
  }
}
