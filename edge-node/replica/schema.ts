/**
 * The edge replica's SQLite schema: the one drizzle definition that feeds
 * drizzle-kit (`npm run db:generate:edge` → migrations/sqlite), applied at
 * open by drizzle's better-sqlite3 migrator.
 *
 * Every replicated resource keeps its envelope exactly as the control plane
 * sent it (`doc`, JSON text: what `dump()` returns and what the read stores
 * hand to the shared handlers), plus the columns the read paths look up by,
 * plus `position`: the outbox position of the event (or snapshot) that last
 * wrote the row. Derived lookups (interface addresses, group and partition
 * memberships) live in side tables rewritten with their owner row.
 *
 * No uniqueness beyond primary keys and no foreign keys: the control plane
 * enforces those, and a replica must be able to take any event order the
 * stream hands it without an intermediate state being refused.
 */
import { sql } from "drizzle-orm";
import { check, index, integer, primaryKey, sqliteTable, text } from "drizzle-orm/sqlite-core";

/** Envelope JSON and the position that last wrote the row. */
const replicated = () => ({
  position: integer("position").notNull(),
  doc: text("doc").notNull(),
});

export const components = sqliteTable(
  "components",
  {
    id: text("id").primaryKey(),
    nid: integer("nid"),
    role: text("role"),
    enabled: integer("enabled", { mode: "boolean" }).notNull(),
    ...replicated(),
  },
  (t) => [index("components_nid_idx").on(t.nid)],
);

export const interfaces = sqliteTable(
  "interfaces",
  {
    id: text("id").primaryKey(),
    componentId: text("component_id").notNull(),
    macAddress: text("mac_address").notNull(),
    ...replicated(),
  },
  (t) => [
    // Covers the boot script's MAC → component step without visiting the table.
    index("interfaces_mac_idx").on(t.macAddress, t.componentId),
    index("interfaces_component_idx").on(t.componentId),
  ],
);

/**
 * One row per address of an interface, keyed by `addressKey()` (canonical
 * text that keeps the address family, as Postgres `inet` equality does).
 */
export const interfaceAddresses = sqliteTable(
  "interface_addresses",
  {
    interfaceId: text("interface_id").notNull(),
    address: text("address").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.interfaceId, t.address] }),
    index("interface_addresses_address_idx").on(t.address),
  ],
);

export const groups = sqliteTable("groups", { name: text("name").primaryKey(), ...replicated() });

/** From the group envelope's `spec.members`. */
export const groupMembers = sqliteTable(
  "group_members",
  {
    groupName: text("group_name").notNull(),
    componentId: text("component_id").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.groupName, t.componentId] }),
    index("group_members_component_idx").on(t.componentId),
  ],
);

export const partitions = sqliteTable("partitions", { name: text("name").primaryKey(), ...replicated() });

/** From the partition envelope's `spec.members`. */
export const partitionMembers = sqliteTable(
  "partition_members",
  {
    partitionName: text("partition_name").notNull(),
    componentId: text("component_id").notNull(),
  },
  (t) => [
    primaryKey({ columns: [t.partitionName, t.componentId] }),
    index("partition_members_component_idx").on(t.componentId),
  ],
);

export const bootParams = sqliteTable(
  "boot_params",
  {
    id: text("id").primaryKey(),
    componentId: text("component_id"),
    role: text("role"),
    isDefault: integer("is_default", { mode: "boolean" }).notNull(),
    ...replicated(),
  },
  (t) => [
    index("boot_params_component_idx").on(t.componentId),
    index("boot_params_role_idx").on(t.role),
    index("boot_params_default_idx").on(t.isDefault).where(sql`${t.isDefault} = 1`),
  ],
);

export const payloads = sqliteTable(
  "payloads",
  {
    id: text("id").primaryKey(),
    componentId: text("component_id"),
    groupName: text("group_name"),
    role: text("role"),
    ...replicated(),
  },
  (t) => [
    index("payloads_component_idx").on(t.componentId),
    index("payloads_group_idx").on(t.groupName),
    index("payloads_role_idx").on(t.role),
  ],
);

export const revocations = sqliteTable(
  "revocations",
  {
    jti: text("jti").primaryKey(),
    /** Epoch milliseconds, compared as numbers. */
    expiresAt: integer("expires_at").notNull(),
    /** A subject revocation's account: its tokens issued before `issued_before` are refused. */
    subject: text("subject"),
    /** Epoch milliseconds; set with `subject`. */
    issuedBefore: integer("issued_before"),
    ...replicated(),
  },
  (t) => [
    index("revocations_expires_idx").on(t.expiresAt),
    index("revocations_subject_idx").on(t.subject).where(sql`${t.subject} is not null`),
  ],
);

/**
 * The position of every row deleted since the last snapshot, so that a
 * replayed older create or update of a deleted row is recognised as older.
 */
export const tombstones = sqliteTable(
  "tombstones",
  {
    resource: text("resource").notNull(),
    id: text("id").notNull(),
    position: integer("position").notNull(),
  },
  (t) => [primaryKey({ columns: [t.resource, t.id] })],
);

/** The one row of replication state. */
export const replicaState = sqliteTable(
  "replica_state",
  {
    id: integer("id").primaryKey(),
    /** Last applied outbox position; 0: never synced. */
    position: integer("position").notNull().default(0),
    /** ISO time the last snapshot was applied. */
    snapshotAt: text("snapshot_at"),
    /** ISO time a snapshot or at least one event was last applied. */
    lastAppliedAt: text("last_applied_at"),
    /** `time` of the event at `position` (when it was written at the control plane). */
    lastEventTime: text("last_event_time"),
    /** The id of the control plane the replica follows (from its snapshot, its feed, or a bundle). */
    sourceId: text("source_id"),
    /** What fed it last: `live` (snapshot, feed, stream), or `bundle:<file name>`. */
    fedBy: text("fed_by"),
    /** ISO time it was last fed by that. */
    fedAt: text("fed_at"),
  },
  (t) => [check("replica_state_one_row", sql`${t.id} = 1`)],
);
