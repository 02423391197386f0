/**
 * The boot script's and cloud-init serving's read ports over the replica,
 * answering exactly as the Postgres stores do (control/stores/boot.ts,
 * control/stores/cloud-init.ts): the same rows match, in the same order,
 * with the same limits. Every statement is prepared once; a boot script
 * costs two indexed point reads, as on the control plane.
 *
 * Ordering follows Postgres with the C collation (what embedded PGlite
 * uses): SQLite compares text bytewise, which is the same for ids.
 */

import type { BootParams } from "../../functions/boot/schemas";
import type { BootNode, BootReadStore, ParamsCandidates } from "../../functions/boot/store";
import type { Payload } from "../../functions/cloud-init/schemas";
import type { CloudInitReadStore, NodeFacts } from "../../functions/cloud-init/store";
import type { Interface } from "../../functions/inventory/schemas";
import type { Role } from "../../shared/enums";
import type { Resource } from "../../shared/envelope";
import { addressKey } from "./addresses";
import type { SqliteDatabase, SqliteStatement } from "./sqlite";

interface NodeRow {
  id: string;
  nid: number | null;
  role: string | null;
  enabled: number;
}

const nodeOf = (r: NodeRow): BootNode => ({
  id: r.id,
  nid: r.nid,
  role: r.role as Role | null,
  enabled: r.enabled === 1,
});

export const specOf = <T>(doc: string): T => (JSON.parse(doc) as Resource<T>).spec;

export class ReplicaBootStore implements BootReadStore {
  private readonly byMac: SqliteStatement<[string], NodeRow>;
  private readonly byId: SqliteStatement<[string], NodeRow>;
  private readonly byNid: SqliteStatement<[number, number], NodeRow>;
  private readonly params: SqliteStatement<
    [string, string | null],
    { component_id: string | null; role: string | null; doc: string }
  >;

  constructor(db: SqliteDatabase) {
    // The MAC is unique at the control plane, which takes the first row too.
    this.byMac = db.prepare(
      `select c.id, c.nid, c.role, c.enabled from interfaces i join components c on c.id = i.component_id
       where i.mac_address = ? limit 1`,
    );
    this.byId = db.prepare("select id, nid, role, enabled from components where id = ?");
    this.byNid = db.prepare(
      "select id, nid, role, enabled from components where nid = ? order by id limit ?",
    );
    // `role = null` is never true, so a node without a role matches no role params, as in Postgres.
    this.params = db.prepare(
      "select component_id, role, doc from boot_params where component_id = ? or role = ? or is_default = 1",
    );
  }

  async nodeByMac(mac: string) {
    const r = this.byMac.get(mac);
    return r && nodeOf(r);
  }

  async nodeById(id: string) {
    const r = this.byId.get(id);
    return r && nodeOf(r);
  }

  async nodesByNid(nid: number, limit: number) {
    return this.byNid.all(nid, limit).map(nodeOf);
  }

  async paramsFor(componentId: string, role: Role | null): Promise<ParamsCandidates> {
    const out: ParamsCandidates = {};
    for (const r of this.params.all(componentId, role)) {
      const p = specOf<BootParams>(r.doc);
      if (r.component_id !== null) out.component = p;
      else if (r.role !== null) out.role = p;
      else out.default = p;
    }
    return out;
  }
}

export class ReplicaCloudInitStore implements CloudInitReadStore {
  private readonly byId: SqliteStatement<[string], { id: string; nid: number | null; role: string | null }>;
  private readonly byMac: SqliteStatement<[string], { id: string; nid: number | null; role: string | null }>;
  private readonly interfacesOf: SqliteStatement<[string], { doc: string }>;
  private readonly groupsOf: SqliteStatement<[string], string>;
  private readonly withAddress: SqliteStatement<[string], string>;
  private readonly payloads: SqliteStatement<[string, string, string | null], { doc: string }>;

  constructor(db: SqliteDatabase) {
    this.byId = db.prepare("select id, nid, role from components where id = ?");
    this.byMac = db.prepare(
      `select id, nid, role from components
       where id = (select component_id from interfaces where mac_address = ? limit 1)`,
    );
    this.interfacesOf = db.prepare("select doc from interfaces where component_id = ? order by id");
    this.groupsOf = db
      .prepare<[string], string>(
        "select group_name from group_members where component_id = ? order by group_name",
      )
      .pluck();
    this.withAddress = db
      .prepare<[string], string>(
        `select distinct i.component_id as id from interface_addresses a join interfaces i on i.id = a.interface_id
         where a.address = ? order by 1 limit 2`,
      )
      .pluck();
    this.payloads = db.prepare(
      `select doc from payloads
       where component_id = ? or group_name in (select value from json_each(?)) or role = ?`,
    );
  }

  private facts(
    r: { id: string; nid: number | null; role: string | null } | undefined,
  ): NodeFacts | undefined {
    if (!r) return undefined;
    return {
      id: r.id,
      nid: r.nid,
      role: r.role as Role | null,
      groups: this.groupsOf.all(r.id),
      interfaces: this.interfacesOf.all(r.id).map(({ doc }) => {
        const i = specOf<Interface>(doc);
        return { id: i.id, macAddress: i.macAddress, ipAddresses: i.ipAddresses };
      }),
    };
  }

  async nodeById(id: string) {
    return this.facts(this.byId.get(id));
  }

  async nodeByMac(mac: string) {
    return this.facts(this.byMac.get(mac));
  }

  async componentsWithAddress(address: string): Promise<string[]> {
    const key = addressKey(address);
    return key === undefined ? [] : this.withAddress.all(key);
  }

  async payloadsFor(target: {
    componentId: string;
    groups: string[];
    role: string | null;
  }): Promise<Payload[]> {
    return this.payloads
      .all(target.componentId, JSON.stringify(target.groups), target.role)
      .map(({ doc }) => specOf<Payload>(doc));
  }
}
