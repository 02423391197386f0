/**
 * Writes of replicated rows: one upsert and one delete per resource, each
 * keeping the row's lookup columns and side tables (addresses, memberships)
 * in step with its envelope, and the row version (position) that the
 * replica compares events against. Statements are prepared once; callers
 * run these inside their own transaction.
 */

import type { Resource } from "../../shared/envelope";
import { addressKey } from "./addresses";
import { ReplicaEventError, type ReplicatedResource } from "./events";
import type { SqliteDatabase, SqliteStatement } from "./sqlite";

type Envelope = Resource<Record<string, unknown>>;
type Spec = Record<string, unknown>;

/** Field readers that refuse what the control plane never writes, naming the field. */
class Fields {
  constructor(
    private readonly spec: Spec,
    private readonly where: string,
    private readonly position: number | undefined,
  ) {}
  /** Refuses the envelope: `spec.<key> must be <rule>`. */
  refuse(key: string, rule: string): never {
    return this.bad(key, rule);
  }
  private bad(key: string, rule: string): never {
    throw new ReplicaEventError("malformed", `${this.where}: spec.${key} must be ${rule}`, this.position);
  }
  text(key: string): string {
    const v = this.spec[key];
    return typeof v === "string" ? v : this.bad(key, "a string");
  }
  optText(key: string): string | null {
    const v = this.spec[key] ?? null;
    return v === null || typeof v === "string" ? v : this.bad(key, "a string or null");
  }
  optInt(key: string): number | null {
    const v = this.spec[key] ?? null;
    return v === null || Number.isSafeInteger(v) ? (v as number | null) : this.bad(key, "an integer or null");
  }
  flag(key: string): 0 | 1 {
    const v = this.spec[key];
    return typeof v === "boolean" ? (v ? 1 : 0) : this.bad(key, "a boolean");
  }
  texts(key: string): string[] {
    const v = this.spec[key];
    return Array.isArray(v) && v.every((x) => typeof x === "string") ? v : this.bad(key, "a list of strings");
  }
  addresses(key: string): string[] {
    const v = this.spec[key];
    if (!Array.isArray(v)) return this.bad(key, "a list");
    return v.map((a) =>
      typeof a === "object" && a !== null && typeof a.ipAddress === "string"
        ? a.ipAddress
        : this.bad(key, "a list of {ipAddress, network}"),
    );
  }
  time(key: string): number {
    const ms = Date.parse(this.text(key));
    return Number.isFinite(ms) ? ms : this.bad(key, "a date-time");
  }
  optTime(key: string): number | null {
    return this.optText(key) === null ? null : this.time(key);
  }
}

interface Table {
  /** Upserts the row from its envelope. */
  write(id: string, env: Envelope, f: Fields, position: number): void;
  /** Deletes the row and its side rows. */
  remove(id: string): void;
  version: SqliteStatement<[string], { position: number }>;
}

export class ReplicaWriter {
  private readonly tables: Record<ReplicatedResource, Table>;
  private readonly tombstone: SqliteStatement<[string, string], { position: number }>;
  private readonly bury: SqliteStatement<[string, string, number]>;
  private readonly unbury: SqliteStatement<[string, string]>;
  private readonly clearAll: () => void;

  constructor(db: SqliteDatabase) {
    const st = <P extends unknown[] = unknown[], R = unknown>(sql: string) =>
      db.prepare<P, R>(sql) as SqliteStatement<P, R>;
    const versionOf = (table: string, key: string) =>
      st<[string], { position: number }>(`select position from ${table} where ${key} = ?`);
    const del = (sql: string) => st<[string]>(sql);

    const comp = st(
      `insert into components (id, nid, role, enabled, position, doc) values (?, ?, ?, ?, ?, ?)
       on conflict (id) do update set nid = excluded.nid, role = excluded.role, enabled = excluded.enabled,
         position = excluded.position, doc = excluded.doc`,
    );
    const compDel = del("delete from components where id = ?");

    const iface = st(
      `insert into interfaces (id, component_id, mac_address, position, doc) values (?, ?, ?, ?, ?)
       on conflict (id) do update set component_id = excluded.component_id, mac_address = excluded.mac_address,
         position = excluded.position, doc = excluded.doc`,
    );
    const ifaceDel = del("delete from interfaces where id = ?");
    const addr = st("insert or ignore into interface_addresses (interface_id, address) values (?, ?)");
    const addrDel = del("delete from interface_addresses where interface_id = ?");

    const membered = (table: string, members: string, key: string) => {
      const up = st(
        `insert into ${table} (name, position, doc) values (?, ?, ?)
         on conflict (name) do update set position = excluded.position, doc = excluded.doc`,
      );
      const down = del(`delete from ${table} where name = ?`);
      const add = st(`insert or ignore into ${members} (${key}, component_id) values (?, ?)`);
      const clear = del(`delete from ${members} where ${key} = ?`);
      return {
        write(id: string, env: Envelope, f: Fields, position: number) {
          const ids = f.texts("members");
          up.run(id, position, JSON.stringify(env));
          clear.run(id);
          for (const c of ids) add.run(id, c);
        },
        remove(id: string) {
          down.run(id);
          clear.run(id);
        },
        version: versionOf(table, "name"),
      } satisfies Table;
    };

    const bp = st(
      `insert into boot_params (id, component_id, role, is_default, position, doc) values (?, ?, ?, ?, ?, ?)
       on conflict (id) do update set component_id = excluded.component_id, role = excluded.role,
         is_default = excluded.is_default, position = excluded.position, doc = excluded.doc`,
    );
    const pl = st(
      `insert into payloads (id, component_id, group_name, role, position, doc) values (?, ?, ?, ?, ?, ?)
       on conflict (id) do update set component_id = excluded.component_id, group_name = excluded.group_name,
         role = excluded.role, position = excluded.position, doc = excluded.doc`,
    );
    const bpDel = del("delete from boot_params where id = ?");
    const plDel = del("delete from payloads where id = ?");
    const revDel = del("delete from revocations where jti = ?");
    const rev = st(
      `insert into revocations (jti, expires_at, subject, issued_before, position, doc) values (?, ?, ?, ?, ?, ?)
       on conflict (jti) do update set expires_at = excluded.expires_at, subject = excluded.subject,
         issued_before = excluded.issued_before, position = excluded.position, doc = excluded.doc`,
    );

    this.tables = {
      components: {
        write(id, env, f, position) {
          comp.run(id, f.optInt("nid"), f.optText("role"), f.flag("enabled"), position, JSON.stringify(env));
        },
        remove: (id) => compDel.run(id),
        version: versionOf("components", "id"),
      },
      interfaces: {
        write(id, env, f, position) {
          const keys = new Set(
            f
              .addresses("ipAddresses")
              .map(addressKey)
              .filter((k) => k !== undefined),
          );
          iface.run(id, f.text("componentId"), f.text("macAddress"), position, JSON.stringify(env));
          addrDel.run(id);
          for (const k of keys) addr.run(id, k);
        },
        remove(id) {
          ifaceDel.run(id);
          addrDel.run(id);
        },
        version: versionOf("interfaces", "id"),
      },
      groups: membered("groups", "group_members", "group_name"),
      partitions: membered("partitions", "partition_members", "partition_name"),
      bootparams: {
        write(id, env, f, position) {
          bp.run(
            id,
            f.optText("componentId"),
            f.optText("role"),
            f.flag("isDefault"),
            position,
            JSON.stringify(env),
          );
        },
        remove: (id) => bpDel.run(id),
        version: versionOf("boot_params", "id"),
      },
      payloads: {
        write(id, env, f, position) {
          pl.run(
            id,
            f.optText("componentId"),
            f.optText("group"),
            f.optText("role"),
            position,
            JSON.stringify(env),
          );
        },
        remove: (id) => plDel.run(id),
        version: versionOf("payloads", "id"),
      },
      revocations: {
        write(id, env, f, position) {
          // A subject revocation (an account deleted, disabled or re-secreted) names the account and a time.
          const subject = f.optText("subject");
          const issuedBefore = f.optTime("issuedBefore");
          if ((subject === null) !== (issuedBefore === null))
            f.refuse("issuedBefore", "set with spec.subject, and only then");
          rev.run(id, f.time("expiresAt"), subject, issuedBefore, position, JSON.stringify(env));
        },
        remove: (id) => revDel.run(id),
        version: versionOf("revocations", "jti"),
      },
    };

    this.tombstone = st("select position from tombstones where resource = ? and id = ?");
    this.bury = st(
      `insert into tombstones (resource, id, position) values (?, ?, ?)
       on conflict (resource, id) do update set position = excluded.position`,
    );
    this.unbury = st("delete from tombstones where resource = ? and id = ?");
    const wipe = [
      "components",
      "interfaces",
      "interface_addresses",
      "groups",
      "group_members",
      "partitions",
      "partition_members",
      "boot_params",
      "payloads",
      "revocations",
      "tombstones",
    ].map((t) => st(`delete from ${t}`));
    this.clearAll = () => {
      for (const s of wipe) s.run();
    };
  }

  /** The position that last wrote (or deleted) this row; undefined when the replica never saw it. */
  version(resource: ReplicatedResource, id: string): number | undefined {
    return this.tables[resource].version.get(id)?.position ?? this.tombstone.get(resource, id)?.position;
  }

  /** Upserts a row from its envelope; `where` names it in errors. */
  write(resource: ReplicatedResource, env: Envelope, position: number, where: string, at?: number) {
    const id = env.metadata.id;
    this.tables[resource].write(id, env, new Fields(env.spec, where, at), position);
    this.unbury.run(resource, id);
  }

  /** Deletes a row, remembering the position that deleted it. */
  remove(resource: ReplicatedResource, id: string, position: number) {
    this.tables[resource].remove(id);
    this.bury.run(resource, id, position);
  }

  /** Deletes every replicated row and tombstone. */
  clear() {
    this.clearAll();
  }
}
