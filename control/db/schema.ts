/**
 * The control plane's Postgres schema: the one drizzle definition that feeds
 * the queries and (through drizzle-kit) the SQL migrations in migrations/.
 */
import { sql } from "drizzle-orm";
import {
  type AnyPgColumn,
  bigint,
  bigserial,
  boolean,
  check,
  doublePrecision,
  index,
  integer,
  jsonb,
  pgSchema,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
  varchar,
} from "drizzle-orm/pg-core";
import type { ArtifactRef } from "../../functions/artifacts/schemas";
import type { AuditDetail } from "../../functions/audit/store";

export const smd = pgSchema("smd");

/** Bookkeeping every resource row carries. */
const tracked = () => ({
  etag: varchar("etag", { length: 32 }).notNull(),
  createdAt: timestamp("created_at", { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  updatedAt: timestamp("updated_at", { withTimezone: true, precision: 3 }).notNull().defaultNow(),
});

export const components = smd.table(
  "components",
  {
    id: varchar("id", { length: 255 }).primaryKey(),
    type: varchar("type", { length: 63 }).notNull(),
    state: varchar("state", { length: 32 }).notNull().default("Empty"),
    role: varchar("role", { length: 32 }),
    subRole: varchar("sub_role", { length: 32 }),
    nid: bigint("nid", { mode: "number" }),
    // ON DELETE RESTRICT: deleting a parent that still has children is a 409, not a silent orphaning.
    parentId: varchar("parent_id", { length: 255 }).references((): AnyPgColumn => components.id, {
      onDelete: "restrict",
    }),
    rack: text("rack"),
    unit: integer("unit"),
    slot: integer("slot"),
    subSlot: integer("sub_slot"),
    flag: varchar("flag", { length: 16 }).notNull().default("OK"),
    arch: varchar("arch", { length: 16 }),
    netType: varchar("net_type", { length: 16 }),
    enabled: boolean("enabled").notNull().default(true),
    ...tracked(),
  },
  (t) => [
    index("components_type_idx").on(t.type),
    index("components_state_idx").on(t.state),
    index("components_role_idx").on(t.role),
    index("components_parent_idx").on(t.parentId),
    index("components_nid_idx").on(t.nid),
    index("components_rack_idx").on(t.rack),
    index("components_created_idx").on(t.createdAt),
  ],
);

export const ethernetInterfaces = smd.table(
  "ethernet_interfaces",
  {
    id: varchar("id", { length: 255 }).primaryKey(),
    componentId: varchar("component_id", { length: 255 })
      .notNull()
      .references(() => components.id, { onDelete: "cascade" }),
    macAddress: varchar("mac_address", { length: 17 }).notNull().unique("ethernet_interfaces_mac_unique"),
    ipAddresses: jsonb("ip_addresses")
      .$type<{ ipAddress: string; network: string | null }[]>()
      .notNull()
      .default(sql`'[]'::jsonb`),
    description: text("description").notNull().default(""),
    ...tracked(),
  },
  (t) => [index("ethernet_interfaces_component_idx").on(t.componentId)],
);

export const groups = smd.table("groups", {
  name: varchar("name", { length: 255 }).primaryKey(),
  description: text("description").notNull().default(""),
  tags: jsonb("tags").$type<string[]>().notNull().default(sql`'[]'::jsonb`),
  ...tracked(),
});

export const groupMembers = smd.table(
  "group_members",
  {
    groupName: varchar("group_name", { length: 255 })
      .notNull()
      .references(() => groups.name, { onDelete: "cascade" }),
    componentId: varchar("component_id", { length: 255 })
      .notNull()
      .references(() => components.id, { onDelete: "cascade" }),
  },
  (t) => [
    primaryKey({ columns: [t.groupName, t.componentId] }),
    index("group_members_component_idx").on(t.componentId),
  ],
);

export const partitions = smd.table("partitions", {
  name: varchar("name", { length: 255 }).primaryKey(),
  description: text("description").notNull().default(""),
  tags: jsonb("tags").$type<string[]>().notNull().default(sql`'[]'::jsonb`),
  ...tracked(),
});

/** component_id is the primary key: the database itself keeps a component in at most one partition. */
export const partitionMembers = smd.table(
  "partition_members",
  {
    componentId: varchar("component_id", { length: 255 })
      .primaryKey()
      .references(() => components.id, { onDelete: "cascade" }),
    partitionName: varchar("partition_name", { length: 255 })
      .notNull()
      .references(() => partitions.name, { onDelete: "cascade" }),
  },
  (t) => [index("partition_members_partition_idx").on(t.partitionName)],
);

// ---------- auth ----------

export const auth = pgSchema("auth");

/**
 * Signing keys, the private half sealed under the master key: `token` keys
 * sign access tokens (published in the JWKS), `bundle` keys sign the
 * manifests of air-gap bundles (trusted by edges, never by token checks).
 */
export const signingKeys = auth.table(
  "signing_keys",
  {
    kid: varchar("kid", { length: 64 }).primaryKey(),
    purpose: varchar("purpose", { length: 16 }).notNull().default("token"),
    alg: varchar("alg", { length: 8 }).notNull(),
    publicJwk: jsonb("public_jwk").$type<Record<string, unknown>>().notNull(),
    sealedPrivateJwk: text("sealed_private_jwk").notNull(),
    createdAt: timestamp("created_at", { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    retiredAt: timestamp("retired_at", { withTimezone: true, precision: 3 }),
    publishedUntil: timestamp("published_until", { withTimezone: true, precision: 3 }),
  },
  // At most one active key per purpose, even when two first starts race.
  (t) => [uniqueIndex("signing_keys_one_active").on(t.purpose).where(sql`${t.retiredAt} is null`)],
);

export const serviceAccounts = auth.table("service_accounts", {
  id: varchar("id", { length: 255 }).primaryKey(),
  description: text("description").notNull().default(""),
  /** Scope patterns capping the account's tokens; null: no cap. */
  scopes: jsonb("scopes").$type<string[] | null>(),
  enabled: boolean("enabled").notNull().default(true),
  secretHash: text("secret_hash").notNull(),
  ...tracked(),
});

/**
 * Casbin's rules, one row per `p` (role, scope pattern) or `g` (subject,
 * role) line. Read by the project's drizzle adapter (control/stores/auth/casbin.ts).
 */
export const casbinRules = auth.table(
  "casbin_rules",
  {
    id: varchar("id", { length: 32 }).primaryKey(),
    ptype: varchar("ptype", { length: 8 }).notNull(),
    v0: varchar("v0", { length: 255 }).notNull(),
    v1: varchar("v1", { length: 255 }).notNull(),
    v2: varchar("v2", { length: 255 }).notNull().default(""),
    createdAt: timestamp("created_at", { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [uniqueIndex("casbin_rules_line").on(t.ptype, t.v0, t.v1, t.v2), index("casbin_rules_v1").on(t.v1)],
);

/**
 * Revoked tokens. A row with `subject` set ends every token of that subject
 * issued before `issuedBefore` (an account deleted, disabled or given a new
 * secret); its `jti` is then a key of its own, not a token id. Both kinds
 * reach the edges through the feed like any revocation.
 */
export const revocations = auth.table(
  "revocations",
  {
    jti: varchar("jti", { length: 255 }).primaryKey(),
    reason: text("reason").notNull().default(""),
    expiresAt: timestamp("expires_at", { withTimezone: true, precision: 3 }).notNull(),
    subject: varchar("subject", { length: 255 }),
    issuedBefore: timestamp("issued_before", { withTimezone: true, precision: 3 }),
    ...tracked(),
  },
  (t) => [
    index("revocations_expires_idx").on(t.expiresAt),
    index("revocations_subject_idx").on(t.subject).where(sql`${t.subject} is not null`),
  ],
);

export const credentials = auth.table(
  "credentials",
  {
    id: varchar("id", { length: 255 }).primaryKey(),
    name: varchar("name", { length: 255 }).notNull(),
    type: varchar("type", { length: 16 }).notNull(),
    username: varchar("username", { length: 255 }).notNull(),
    sealedSecret: text("sealed_secret").notNull(),
    tags: jsonb("tags").$type<Record<string, string>>().notNull().default({}),
    ...tracked(),
  },
  (t) => [index("credentials_tags_idx").using("gin", t.tags)],
);

// ---------- events ----------

export const eventsSchema = pgSchema("events");

/**
 * This control plane's identity: one row, written by the migration that
 * made the table. Bundles and the change feed name it as their `source`, so
 * an edge can tell the control plane it was fed from from another one.
 */
export const installation = eventsSchema.table("installation", {
  id: uuid("id").primaryKey().defaultRandom(),
  createdAt: timestamp("created_at", { withTimezone: true, precision: 3 }).notNull().defaultNow(),
});

/** The last report of each edge of itself (`PUT /events/v1/edges/{name}`), shown by `GET /events/v1/edges`. */
export const edges = eventsSchema.table("edges", {
  name: varchar("name", { length: 64 }).primaryKey(),
  reportedAt: timestamp("reported_at", { withTimezone: true, precision: 3 }).notNull(),
  report: jsonb("report").notNull(),
});

/**
 * The transactional outbox: one CloudEvent per change, written in the
 * change's transaction under an advisory lock (control/stores/outbox.ts), so
 * `position` follows commit order and a reader never sees a gap fill later.
 */
export const outbox = eventsSchema.table(
  "outbox",
  {
    position: bigserial("position", { mode: "number" }).primaryKey(),
    id: uuid("id").notNull().unique(),
    source: varchar("source", { length: 64 }).notNull(),
    type: varchar("type", { length: 128 }).notNull(),
    subject: varchar("subject", { length: 255 }).notNull(),
    time: timestamp("time", { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    data: jsonb("data").notNull(),
    sentAt: timestamp("sent_at", { withTimezone: true, precision: 3 }),
    /** The W3C traceparent of the request that wrote it, when traced: the relay and the edges continue its trace. */
    traceparent: varchar("traceparent", { length: 55 }),
  },
  (t) => [index("outbox_unsent").on(t.position).where(sql`${t.sentAt} is null`)],
);

// ---------- boot (BSS) ----------

export const bss = pgSchema("bss");

/**
 * Boot parameters for exactly one target: a component, a role, or the
 * cluster default. No foreign key to the component: parameters outlive a
 * deleted component harmlessly (nothing resolves to them) and stay visible.
 */
export const bootParams = bss.table(
  "boot_params",
  {
    id: varchar("id", { length: 255 }).primaryKey(),
    componentId: varchar("component_id", { length: 255 }),
    role: varchar("role", { length: 32 }),
    isDefault: boolean("is_default").notNull().default(false),
    kernelUri: text("kernel_uri").notNull(),
    initrdUri: text("initrd_uri").notNull().default(""),
    cmdline: text("cmdline").notNull().default(""),
    /** An artifact (functions/artifacts/schemas.ts ArtifactRef) instead of kernel_uri, which is then empty. */
    kernel: jsonb("kernel").$type<ArtifactRef>(),
    initrd: jsonb("initrd").$type<ArtifactRef>(),
    ...tracked(),
  },
  (t) => [
    uniqueIndex("boot_params_component").on(t.componentId),
    uniqueIndex("boot_params_role").on(t.role),
    uniqueIndex("boot_params_default").on(t.isDefault).where(sql`${t.isDefault}`),
    check(
      "boot_params_one_target",
      sql`(${t.componentId} is not null)::int + (${t.role} is not null)::int + ${t.isDefault}::int = 1`,
    ),
  ],
);

/**
 * Boot artifacts: kernels, initrds, images, iPXE binaries. The content is
 * on a web server (`url`) or uploaded to the control plane's store
 * (`stored`); never changed under a name. The name is also the id.
 */
export const artifacts = bss.table(
  "artifacts",
  {
    name: varchar("name", { length: 128 }).primaryKey(),
    sha256: varchar("sha256", { length: 64 }).notNull(),
    size: bigint("size", { mode: "number" }).notNull(),
    kind: varchar("kind", { length: 16 }).notNull(),
    labels: jsonb("labels").$type<Record<string, string>>().notNull().default({}),
    url: text("url"),
    stored: boolean("stored").notNull().default(false),
    ...tracked(),
  },
  (t) => [uniqueIndex("artifacts_sha256").on(t.sha256)],
);

/**
 * The last stage each node reached in its boot (functions/progress), as the
 * edges report it: one row per node, moved only forward (by time, then
 * stage), so a batch resent after an outage cannot take a node back.
 * `at` is on the control plane's clock (see ProgressBatchSchema.sentAt).
 */
export const bootProgress = bss.table(
  "progress",
  {
    componentId: varchar("component_id", { length: 255 })
      .primaryKey()
      .references(() => components.id, { onDelete: "cascade" }),
    stage: varchar("stage", { length: 16 }).notNull(),
    at: timestamp("at", { withTimezone: true, precision: 3 }).notNull(),
    /** The edge that saw it; null: the control plane (a phone-home sent to it directly). */
    edge: varchar("edge", { length: 64 }),
    /**
     * `at` by the edge's own clock, as it sent it: events of the same edge are
     * ordered by it, so a batch resent later (and so re-based later) is still
     * the same events and changes nothing.
     */
    edgeAt: timestamp("edge_at", { withTimezone: true, precision: 3 }).notNull(),
    retry: integer("retry"),
    address: varchar("address", { length: 64 }),
    receivedAt: timestamp("received_at", { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [index("progress_stage_at_idx").on(t.stage, t.at), index("progress_edge_idx").on(t.edge)],
);

// ---------- cloud-init ----------

export const cloudinit = pgSchema("cloudinit");

/** A cloud-init payload for exactly one target: a component, a group or a role. */
export const payloads = cloudinit.table(
  "payloads",
  {
    id: varchar("id", { length: 255 }).primaryKey(),
    componentId: varchar("component_id", { length: 255 }),
    groupName: varchar("group_name", { length: 255 }),
    role: varchar("role", { length: 32 }),
    userData: text("user_data"),
    metaData: jsonb("meta_data").$type<Record<string, unknown>>(),
    vendorData: text("vendor_data"),
    /** Served only to a caller whose address is one of the node's own. */
    bindToAddress: boolean("bind_to_address").notNull().default(false),
    ...tracked(),
  },
  (t) => [
    uniqueIndex("payloads_component").on(t.componentId),
    uniqueIndex("payloads_group").on(t.groupName),
    uniqueIndex("payloads_role").on(t.role),
    check(
      "payloads_one_target",
      sql`(${t.componentId} is not null)::int + (${t.groupName} is not null)::int + (${t.role} is not null)::int = 1`,
    ),
  ],
);

// ---------- power (PCS) ----------

export const power = pgSchema("power");

/**
 * How to reach a BMC: its address and the device credential to log in
 * with. `id` is the BMC's component id (a NodeBMC); there is no foreign key,
 * as with boot params: an endpoint outlives its component harmlessly
 * (resolution goes through the inventory). `site` names the edge that can
 * reach the BMC; null: the control plane's own agent.
 */
export const bmcEndpoints = power.table(
  "bmc_endpoints",
  {
    id: varchar("id", { length: 255 }).primaryKey(),
    address: text("address").notNull(),
    credentialId: varchar("credential_id", { length: 255 }).notNull(),
    auth: varchar("auth", { length: 16 }).notNull().default("basic"),
    insecure: boolean("insecure").notNull().default(false),
    site: varchar("site", { length: 255 }),
    ...tracked(),
  },
  (t) => [
    index("bmc_endpoints_site_idx").on(t.site),
    index("bmc_endpoints_credential_idx").on(t.credentialId),
  ],
);

/** One power request: an operation over a set of nodes, one task per node. */
export const transitions = power.table(
  "transitions",
  {
    id: uuid("id").primaryKey(),
    operation: varchar("operation", { length: 32 }).notNull(),
    /** Fractions allowed: a short deadline for tests, or 0.5 for 30 s. */
    taskDeadlineMinutes: doublePrecision("task_deadline_minutes").notNull().default(5),
    state: varchar("state", { length: 16 }).notNull().default("new"),
    dryRun: boolean("dry_run").notNull().default(false),
    requestedBy: varchar("requested_by", { length: 255 }).notNull(),
    completedAt: timestamp("completed_at", { withTimezone: true, precision: 3 }),
    /** The W3C traceparent of the request that made it, when traced: its agent's work continues that trace. */
    traceparent: varchar("traceparent", { length: 55 }),
    ...tracked(),
  },
  (t) => [index("transitions_state_idx").on(t.state), index("transitions_created_idx").on(t.createdAt)],
);

/**
 * One node of a transition. `position` keeps the request's order; `site`
 * is copied from the BMC endpoint when the transition is created, so the
 * agent that must run it is known without a join. `deadline_at`: by when a
 * task being run must be final (a task still in progress after it was left
 * by a process that stopped).
 */
export const powerTasks = power.table(
  "tasks",
  {
    id: uuid("id").primaryKey(),
    transitionId: uuid("transition_id")
      .notNull()
      .references(() => transitions.id, { onDelete: "cascade" }),
    position: integer("position").notNull(),
    xname: varchar("xname", { length: 255 }).notNull(),
    bmcId: varchar("bmc_id", { length: 255 }),
    state: varchar("state", { length: 16 }).notNull(),
    message: text("message").notNull().default(""),
    powerState: varchar("power_state", { length: 32 }),
    site: varchar("site", { length: 255 }),
    deadlineAt: timestamp("deadline_at", { withTimezone: true, precision: 3 }),
    updatedAt: timestamp("updated_at", { withTimezone: true, precision: 3 }).notNull().defaultNow(),
  },
  (t) => [
    index("tasks_transition_idx").on(t.transitionId, t.position),
    index("tasks_queue_idx").on(t.state, t.site).where(sql`${t.state} in ('new', 'in-progress')`),
    index("tasks_power_state_idx").on(t.xname, t.updatedAt).where(sql`${t.powerState} is not null`),
  ],
);

// ---------- discovery ----------

export const discovery = pgSchema("discovery");

/**
 * What to scan: BMC addresses, the driver, the device credential to log in
 * with, the edge site that can reach them (null: the control plane's own
 * agent) and the driver's options (parsed with the driver's schema when the
 * target is written). No foreign key to the credential, as with BMC
 * endpoints: a scan says when it is missing.
 */
export const discoveryTargets = discovery.table("targets", {
  id: varchar("id", { length: 255 }).primaryKey(),
  name: varchar("name", { length: 255 }).notNull().default(""),
  addresses: text("addresses").array().notNull(),
  driver: varchar("driver", { length: 32 }).notNull().default("redfish"),
  credentialId: varchar("credential_id", { length: 255 }).notNull(),
  site: varchar("site", { length: 255 }),
  options: jsonb("options").notNull().default({}),
  /** Scanned every this many minutes; null: only when asked. */
  scheduleMinutes: integer("schedule_minutes"),
  /** When the scheduler starts its next scan (null without a schedule). */
  nextScanAt: timestamp("next_scan_at", { withTimezone: true, precision: 3 }),
  ...tracked(),
});

/** One scan over some targets; `results` holds one entry per target address as it is scanned. */
export const discoveryScans = discovery.table(
  "scans",
  {
    id: uuid("id").primaryKey(),
    targetIds: text("target_ids").array().notNull(),
    state: varchar("state", { length: 16 }).notNull().default("new"),
    dryRun: boolean("dry_run").notNull().default(false),
    site: varchar("site", { length: 255 }),
    requestedBy: varchar("requested_by", { length: 255 }).notNull(),
    message: text("message").notNull().default(""),
    results: jsonb("results").notNull().default([]),
    /** The W3C traceparent of the request that started it, when traced: its agent's work continues that trace. */
    traceparent: varchar("traceparent", { length: 55 }),
    startedAt: timestamp("started_at", { withTimezone: true, precision: 3 }),
    finishedAt: timestamp("finished_at", { withTimezone: true, precision: 3 }),
    ...tracked(),
  },
  (t) => [index("scans_state_idx").on(t.state, t.site), index("scans_created_idx").on(t.createdAt)],
);

// ---------- audit ----------

export const audit = pgSchema("audit");

/**
 * One row per mutating request and per token issued or refused: who (subject,
 * roles, client address), what (method, route template, resource id), the
 * outcome (status) and the request id to find its log lines. Never a body,
 * a query string or a secret. Pruned after CHAMICORE_AUDIT_RETENTION_DAYS.
 */
export const auditEvents = audit.table(
  "events",
  {
    id: bigserial("id", { mode: "number" }).primaryKey(),
    time: timestamp("time", { withTimezone: true, precision: 3 }).notNull().defaultNow(),
    subject: varchar("subject", { length: 255 }),
    roles: jsonb("roles").$type<string[]>().notNull().default([]),
    clientAddress: varchar("client_address", { length: 64 }),
    method: varchar("method", { length: 16 }).notNull(),
    route: varchar("route", { length: 255 }).notNull(),
    resourceId: varchar("resource_id", { length: 255 }),
    status: integer("status").notNull(),
    requestId: varchar("request_id", { length: 255 }),
    /** What happened when the route alone does not say (e.g. "token refused: bad secret"). */
    action: varchar("action", { length: 64 }),
    /** An MCP tool call's transport, mode, session and duration (functions/mcp); null otherwise. */
    detail: jsonb("detail").$type<AuditDetail>(),
  },
  (t) => [
    index("audit_events_time_idx").on(t.time),
    index("audit_events_subject_idx").on(t.subject, t.time),
    index("audit_events_resource_idx").on(t.resourceId, t.time),
  ],
);
