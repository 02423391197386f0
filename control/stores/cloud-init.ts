/**
 * CloudInitStore over Postgres. Target checks run inside the write
 * transaction so that their errors name the field; the unique indexes and
 * the one-target check constraint stay as the last word under races. Every
 * mutation appends its change event in the same transaction.
 */
import { and, asc, eq, inArray, ne, or, type SQL, sql } from "drizzle-orm";
import { CLOUD_INIT_API_VERSION, PAYLOAD_KIND, type Payload } from "../../functions/cloud-init/schemas";
import type { CloudInitStore, NodeFacts } from "../../functions/cloud-init/store";
import type { Role } from "../../shared/enums";
import { type Stored, toResource } from "../../shared/envelope";
import type { NewEvent } from "../../shared/events";
import type { ListQuery } from "../../shared/list-query";
import { ApiError, notFound } from "../../shared/problem";
import { components, ethernetInterfaces, groupMembers, groups, payloads } from "../db/schema";
import type { Db, Tx } from "../db/types";
import { appendEvents } from "./outbox";
import { matchForUpdate, newEtag, raceError, resourceReads, rowsOf, storedOf } from "./pg-util";

type Row = typeof payloads.$inferSelect;

const columns = {
  id: payloads.id,
  componentId: payloads.componentId,
  group: payloads.groupName,
  role: payloads.role,
  createdAt: payloads.createdAt,
  updatedAt: payloads.updatedAt,
};

/** A payload row as the API shows it; the snapshot feed uses it too. */
export function payloadOf(r: Row): Stored<Payload> {
  return storedOf(r, {
    id: r.id,
    componentId: r.componentId,
    group: r.groupName,
    role: r.role as Role | null,
    userData: r.userData,
    metaData: r.metaData,
    vendorData: r.vendorData,
    bindToAddress: r.bindToAddress,
  });
}

/** Every payload as a resource envelope, by id: the payloads of a snapshot, read in the caller's transaction. */
export async function payloadResources(q: Db | Tx) {
  const rows = await q.select().from(payloads).orderBy(asc(payloads.id));
  return rows.map((r) => toResource(PAYLOAD_KIND, CLOUD_INIT_API_VERSION, payloadOf(r)));
}

const valuesOf = (p: Payload) => ({
  id: p.id,
  componentId: p.componentId,
  groupName: p.group,
  role: p.role,
  userData: p.userData,
  metaData: p.metaData,
  vendorData: p.vendorData,
  bindToAddress: p.bindToAddress,
});

const changed = (action: "created" | "updated", row: Stored<Payload>): NewEvent => ({
  service: "cloudinit",
  resource: "payloads",
  action,
  subject: row.id,
  data: toResource(PAYLOAD_KIND, CLOUD_INIT_API_VERSION, row),
});

/** json columns come back parsed from some drivers and as text from others. */
const parsed = <T>(v: unknown): T => (typeof v === "string" ? JSON.parse(v) : v) as T;

/** The target must exist and must not have another payload (`self` excepted). */
async function checkTarget(tx: Tx, p: Payload, self: string | undefined) {
  if (p.componentId !== null) {
    const [c] = await tx
      .select({ id: components.id })
      .from(components)
      .where(eq(components.id, p.componentId));
    if (!c)
      throw new ApiError("validation", `component '${p.componentId}' does not exist`, {
        errors: [{ field: "componentId", message: `component '${p.componentId}' does not exist` }],
      });
  }
  if (p.group !== null) {
    const [g] = await tx.select({ n: groups.name }).from(groups).where(eq(groups.name, p.group));
    if (!g)
      throw new ApiError("validation", `group '${p.group}' does not exist`, {
        errors: [{ field: "group", message: `group '${p.group}' does not exist` }],
      });
  }
  const [field, col, value] =
    p.componentId !== null
      ? (["componentId", payloads.componentId, p.componentId] as const)
      : p.group !== null
        ? (["group", payloads.groupName, p.group] as const)
        : (["role", payloads.role, p.role!] as const);
  const [taken] = await tx
    .select({ id: payloads.id })
    .from(payloads)
    .where(and(eq(col, value), self === undefined ? undefined : ne(payloads.id, self)));
  if (taken)
    throw new ApiError("conflict", `payload '${taken.id}' already targets ${field} '${value}'`, {
      errors: [{ field, message: `already the target of payload '${taken.id}'; update that one instead` }],
    });
}

const RACES = { unique: "A concurrent write created the same payload id or target; retry to see which" };

const payloadReads = resourceReads({
  table: payloads,
  key: payloads.id,
  columns: columns,
  toStored: payloadOf,
});

export class PgCloudInitStore implements CloudInitStore {
  constructor(private readonly db: Db) {}

  // ---------- payload CRUD ----------

  listPayloads(q: ListQuery) {
    return payloadReads.list(this.db, q);
  }

  getPayload(id: string) {
    return payloadReads.get(this.db, id);
  }

  async createPayload(p: Payload) {
    try {
      return await this.db.transaction(async (tx) => {
        const [same] = await tx.select({ id: payloads.id }).from(payloads).where(eq(payloads.id, p.id));
        if (same)
          throw new ApiError("conflict", `payload '${p.id}' already exists`, {
            errors: [{ field: "id", message: "already exists" }],
          });
        await checkTarget(tx, p, undefined);
        const now = new Date();
        const [row] = await tx
          .insert(payloads)
          .values({ ...valuesOf(p), etag: newEtag(), createdAt: now, updatedAt: now })
          .returning();
        const stored = payloadOf(row!);
        await appendEvents(tx, [changed("created", stored)]);
        return stored;
      });
    } catch (e) {
      throw raceError(e, RACES);
    }
  }

  async updatePayload(p: Payload, ifMatch: string) {
    try {
      return await this.db.transaction(async (tx) => {
        await matchForUpdate(
          tx.select({ etag: payloads.etag }).from(payloads).where(eq(payloads.id, p.id)).for("update"),
          ifMatch,
          "payload",
          p.id,
        );
        await checkTarget(tx, p, p.id);
        const [row] = await tx
          .update(payloads)
          .set({ ...valuesOf(p), etag: newEtag(), updatedAt: new Date() })
          .where(eq(payloads.id, p.id))
          .returning();
        const stored = payloadOf(row!);
        await appendEvents(tx, [changed("updated", stored)]);
        return stored;
      });
    } catch (e) {
      throw raceError(e, RACES);
    }
  }

  async deletePayload(id: string) {
    await this.db.transaction(async (tx) => {
      const gone = await tx.delete(payloads).where(eq(payloads.id, id)).returning({ id: payloads.id });
      if (gone.length === 0) throw notFound("payload", id);
      await appendEvents(tx, [
        { service: "cloudinit", resource: "payloads", action: "deleted", subject: id, data: { id } },
      ]);
    });
  }

  // ---------- serving (CloudInitReadStore) ----------

  /** One query: the component (chosen by `where` over alias `c`), its interfaces and its group names. */
  private async node(where: SQL): Promise<NodeFacts | undefined> {
    const [row] = rowsOf<{
      id: string;
      nid: number | string | null;
      role: string | null;
      interfaces: unknown;
      groups: unknown;
    }>(
      await this.db.execute(sql`
        select c.id, c.nid, c.role,
          coalesce((select json_agg(json_build_object(
                      'id', i.id, 'macAddress', i.mac_address, 'ipAddresses', i.ip_addresses) order by i.id)
                    from ${ethernetInterfaces} i where i.component_id = c.id), '[]'::json) as interfaces,
          coalesce((select json_agg(m.group_name order by m.group_name)
                    from ${groupMembers} m where m.component_id = c.id), '[]'::json) as groups
        from ${components} c where ${where}`),
    );
    if (!row) return undefined;
    return {
      id: row.id,
      nid: row.nid === null ? null : Number(row.nid),
      role: row.role as Role | null,
      groups: parsed<string[]>(row.groups),
      interfaces: parsed<NodeFacts["interfaces"]>(row.interfaces),
    };
  }

  nodeById(id: string) {
    return this.node(sql`c.id = ${id}`);
  }

  nodeByMac(mac: string) {
    return this.node(
      sql`c.id = (select e.component_id from ${ethernetInterfaces} e where e.mac_address = ${mac})`,
    );
  }

  async componentsWithAddress(address: string): Promise<string[]> {
    // inet equality, so that any spelling of an IPv6 address matches; the CASE
    // keeps a stored value that is not a plain address (a zone id) from failing the cast.
    const rows = rowsOf<{ id: string }>(
      await this.db.execute(sql`
        select distinct i.component_id as id
        from ${ethernetInterfaces} i, jsonb_array_elements(i.ip_addresses) e
        where case when e->>'ipAddress' ~ '^[0-9A-Fa-f:.]+$'
                   then (e->>'ipAddress')::inet = ${address}::inet else false end
        order by 1 limit 2`),
    );
    return rows.map((r) => r.id);
  }

  async payloadsFor(target: { componentId: string; groups: string[]; role: string | null }) {
    const rows = await this.db
      .select()
      .from(payloads)
      .where(
        or(
          eq(payloads.componentId, target.componentId),
          target.groups.length ? inArray(payloads.groupName, target.groups) : undefined,
          target.role === null ? undefined : eq(payloads.role, target.role),
        ),
      );
    return rows.map((r) => payloadOf(r).spec);
  }
}
