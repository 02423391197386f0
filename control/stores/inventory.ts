/**
 * InventoryStore over Postgres (any drizzle pg driver). Integrity checks run
 * inside the write transaction so that their errors name the offending
 * field; the database constraints stay as the last word under races.
 */
import { and, eq, inArray, ne, type SQL, sql } from "drizzle-orm";
import {
  type Component,
  type Group,
  HSM_API_VERSION,
  type Interface,
} from "../../functions/inventory/schemas";
import type { GroupKind, InventoryStore, NewComponent, Page } from "../../functions/inventory/store";
import { type Stored, toResource } from "../../shared/envelope";
import type { NewEvent } from "../../shared/events";
import type { ListQuery } from "../../shared/list-query";
import { ApiError, type FieldError, notFound } from "../../shared/problem";
import {
  components,
  ethernetInterfaces,
  groupMembers,
  groups,
  partitionMembers,
  partitions,
} from "../db/schema";
import type { Db } from "../db/types";
import { appendEvents } from "./outbox";
import { chunks, newEtag, orderOf, pageOf, raceError, rowsOf, whereOf } from "./pg-util";

type ComponentRow = typeof components.$inferSelect;
type InterfaceRow = typeof ethernetInterfaces.$inferSelect;
type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];
type Q = Db | Tx;

const componentColumns = {
  id: components.id,
  type: components.type,
  state: components.state,
  role: components.role,
  subRole: components.subRole,
  nid: components.nid,
  parentId: components.parentId,
  rack: components.rack,
  flag: components.flag,
  arch: components.arch,
  enabled: components.enabled,
  createdAt: components.createdAt,
  updatedAt: components.updatedAt,
};

const interfaceColumns = {
  id: ethernetInterfaces.id,
  componentId: ethernetInterfaces.componentId,
  macAddress: ethernetInterfaces.macAddress,
  createdAt: ethernetInterfaces.createdAt,
  updatedAt: ethernetInterfaces.updatedAt,
};

export function componentOf(r: ComponentRow): Stored<Component> {
  return {
    id: r.id,
    etag: r.etag,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    spec: {
      id: r.id,
      type: r.type as Component["type"],
      state: r.state as Component["state"],
      role: r.role as Component["role"],
      subRole: r.subRole as Component["subRole"],
      nid: r.nid,
      parentId: r.parentId,
      rack: r.rack,
      unit: r.unit,
      slot: r.slot,
      subSlot: r.subSlot,
      flag: r.flag as Component["flag"],
      arch: r.arch as Component["arch"],
      netType: r.netType as Component["netType"],
      enabled: r.enabled,
    },
  };
}

export function interfaceOf(r: InterfaceRow): Stored<Interface> {
  return {
    id: r.id,
    etag: r.etag,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    spec: {
      id: r.id,
      componentId: r.componentId,
      macAddress: r.macAddress,
      ipAddresses: r.ipAddresses,
      description: r.description,
    },
  };
}

const componentValues = (c: Component) => ({
  id: c.id,
  type: c.type,
  state: c.state,
  role: c.role,
  subRole: c.subRole,
  nid: c.nid,
  parentId: c.parentId,
  rack: c.rack,
  unit: c.unit,
  slot: c.slot,
  subSlot: c.subSlot,
  flag: c.flag,
  arch: c.arch,
  netType: c.netType,
  enabled: c.enabled,
});

const interfaceValues = (i: Interface) => ({
  id: i.id,
  componentId: i.componentId,
  macAddress: i.macAddress,
  ipAddresses: i.ipAddresses,
  description: i.description,
});

/** The tables behind a group kind: groups and partitions share one shape. */
export function groupTables(kind: GroupKind) {
  return kind === "group"
    ? {
        t: groups,
        m: groupMembers,
        mGroup: groupMembers.groupName,
        mComp: groupMembers.componentId,
        label: "group",
        resource: "groups" as const,
      }
    : {
        // Same columns as groups; the cast lets one code path write both.
        t: partitions as unknown as typeof groups,
        m: partitionMembers,
        mGroup: partitionMembers.partitionName,
        mComp: partitionMembers.componentId,
        label: "partition",
        resource: "partitions" as const,
      };
}

/** 412 when the row exists with another etag, 404 when it does not exist. */
async function preconditionOrMissing(q: Q, exists: SQL, what: string, id: string): Promise<never> {
  const [row] = rowsOf<{ n: number }>(
    await q.execute(sql`select count(*)::int as n where exists (${exists})`),
  );
  if (row && Number(row.n) > 0)
    throw new ApiError(
      "precondition-failed",
      `${what} '${id}' has changed since you read it (If-Match does not match)`,
    );
  throw notFound(what, id);
}

export class PgInventoryStore implements InventoryStore {
  constructor(private readonly db: Db) {}

  // ---------- components ----------

  async listComponents(q: ListQuery): Promise<Page<Component>> {
    const where = whereOf(q, componentColumns);
    const { rows, total } = await pageOf(
      this.db,
      components,
      where,
      orderOf(q, componentColumns, components.id),
      q,
    );
    return { rows: rows.map(componentOf), total };
  }

  async getComponent(id: string) {
    const [row] = await this.db.select().from(components).where(eq(components.id, id));
    return row ? componentOf(row) : undefined;
  }

  async createComponents(items: NewComponent[], pathOf: (i: number) => string) {
    try {
      return await this.db.transaction(async (tx) => {
        await this.checkNewComponents(tx, items, pathOf);
        const now = new Date();
        const ordered = parentsFirst(items);
        const out: ComponentRow[] = [];
        for (const part of chunks(ordered, 1000)) {
          out.push(
            ...(await tx
              .insert(components)
              .values(
                part.map((it) => ({
                  ...componentValues(it.component),
                  etag: newEtag(),
                  createdAt: now,
                  updatedAt: now,
                })),
              )
              .returning()),
          );
        }
        const ifaces = items.flatMap((it) => it.interfaces);
        const ifaceRows: InterfaceRow[] = [];
        for (const part of chunks(ifaces, 2000)) {
          ifaceRows.push(
            ...(await tx
              .insert(ethernetInterfaces)
              .values(
                part.map((i) => ({ ...interfaceValues(i), etag: newEtag(), createdAt: now, updatedAt: now })),
              )
              .returning()),
          );
        }
        await appendEvents(tx, [
          ...out.map((r) => changed("components", "created", componentOf(r))),
          ...ifaceRows.map((r) => changed("interfaces", "created", interfaceOf(r))),
        ]);
        const byId = new Map(out.map((r) => [r.id, r]));
        return items.map((it) => componentOf(byId.get(it.component.id)!));
      });
    } catch (e) {
      throw raceError(e, RACES);
    }
  }

  /** Every reason the batch cannot be written, with its field path; throws if any. */
  private async checkNewComponents(tx: Tx, items: NewComponent[], pathOf: (i: number) => string) {
    const conflicts: FieldError[] = [];
    const invalid: FieldError[] = [];
    const seenIds = new Map<string, number>();
    const seenMacs = new Map<string, string>();
    const seenIfaceIds = new Map<string, string>();
    items.forEach((it, i) => {
      const id = it.component.id;
      if (seenIds.has(id))
        conflicts.push({
          field: `${pathOf(i)}id`,
          message: `duplicate of ${pathOf(seenIds.get(id)!) || "item "}id`,
        });
      else seenIds.set(id, i);
      it.interfaces.forEach((f, j) => {
        const here = `${pathOf(i)}interfaces[${j}]`;
        const prevMac = seenMacs.get(f.macAddress);
        if (prevMac)
          conflicts.push({ field: `${here}.macAddress`, message: `${f.macAddress} is also at ${prevMac}` });
        else seenMacs.set(f.macAddress, here);
        const prevId = seenIfaceIds.get(f.id);
        if (prevId)
          conflicts.push({ field: `${here}.id`, message: `interface id ${f.id} is also at ${prevId}` });
        else seenIfaceIds.set(f.id, here);
      });
    });

    for (const part of chunks([...seenIds.keys()], 5000)) {
      for (const r of await tx
        .select({ id: components.id })
        .from(components)
        .where(inArray(components.id, part)))
        conflicts.push({
          field: `${pathOf(seenIds.get(r.id)!)}id`,
          message: `component '${r.id}' already exists`,
        });
    }
    for (const part of chunks([...seenMacs.keys()], 5000)) {
      const rows = await tx
        .select({
          id: ethernetInterfaces.id,
          mac: ethernetInterfaces.macAddress,
          comp: ethernetInterfaces.componentId,
        })
        .from(ethernetInterfaces)
        .where(inArray(ethernetInterfaces.macAddress, part));
      for (const r of rows)
        conflicts.push({
          field: `${seenMacs.get(r.mac)}.macAddress`,
          message: `MAC ${r.mac} is already used by interface '${r.id}' of component '${r.comp}'`,
        });
    }
    for (const part of chunks([...seenIfaceIds.keys()], 5000)) {
      const rows = await tx
        .select({ id: ethernetInterfaces.id })
        .from(ethernetInterfaces)
        .where(inArray(ethernetInterfaces.id, part));
      for (const r of rows) {
        const at = seenIfaceIds.get(r.id);
        // An id derived from a taken MAC is already reported through the MAC.
        if (!conflicts.some((e) => e.field === `${at}.macAddress`))
          conflicts.push({ field: `${at}.id`, message: `interface '${r.id}' already exists` });
      }
    }

    const parents = new Set(
      items.map((it) => it.component.parentId).filter((p): p is string => !!p && !seenIds.has(p)),
    );
    const found = new Set<string>();
    for (const part of chunks([...parents], 5000)) {
      for (const r of await tx
        .select({ id: components.id })
        .from(components)
        .where(inArray(components.id, part)))
        found.add(r.id);
    }
    items.forEach((it, i) => {
      const p = it.component.parentId;
      if (p && p === it.component.id)
        invalid.push({ field: `${pathOf(i)}parentId`, message: "cannot be the component itself" });
      else if (p && !seenIds.has(p) && !found.has(p))
        invalid.push({ field: `${pathOf(i)}parentId`, message: `component '${p}' does not exist` });
    });
    if (conflicts.length === 0 && invalid.length === 0) {
      const cycle = findParentCycle(items);
      if (cycle !== undefined)
        invalid.push({
          field: `${pathOf(cycle)}parentId`,
          message: "parents form a cycle within the request",
        });
    }

    if (conflicts.length)
      throw new ApiError("conflict", "Some components or interfaces already exist; nothing was written", {
        errors: [...conflicts, ...invalid],
      });
    if (invalid.length)
      throw new ApiError("validation", "Some references do not resolve; nothing was written", {
        errors: invalid,
      });
  }

  async updateComponent(c: Component, ifMatch: string) {
    try {
      return await this.db.transaction(async (tx) => {
        if (c.parentId) await this.checkParent(tx, c.id, c.parentId);
        const [row] = await tx
          .update(components)
          .set({ ...componentValues(c), etag: newEtag(), updatedAt: new Date() })
          .where(and(eq(components.id, c.id), eq(components.etag, ifMatch)))
          .returning();
        if (!row)
          return preconditionOrMissing(
            tx,
            sql`select 1 from ${components} where ${components.id} = ${c.id}`,
            "component",
            c.id,
          );
        await appendEvents(tx, [changed("components", "updated", componentOf(row))]);
        return componentOf(row);
      });
    } catch (e) {
      throw raceError(e, RACES);
    }
  }

  /** The parent must exist and must not be the component or one of its descendants. */
  private async checkParent(tx: Tx, id: string, parentId: string) {
    const bad = (message: string) =>
      new ApiError("validation", `parentId '${parentId}' cannot be used`, {
        errors: [{ field: "parentId", message }],
      });
    if (parentId === id) throw bad("cannot be the component itself");
    const chain = rowsOf<{ id: string }>(
      await tx.execute(sql`
        with recursive up(id, parent_id, depth) as (
          select id, parent_id, 0 from ${components} where id = ${parentId}
          union all
          select c.id, c.parent_id, up.depth + 1 from ${components} c join up on c.id = up.parent_id where up.depth < 256
        ) select id from up`),
    );
    if (chain.length === 0) throw bad(`component '${parentId}' does not exist`);
    if (chain.some((r) => r.id === id))
      throw bad(`'${parentId}' is a descendant of '${id}': that would make a cycle`);
  }

  async deleteComponent(id: string) {
    await this.db.transaction(async (tx) => {
      const children = await tx
        .select({ id: components.id })
        .from(components)
        .where(eq(components.parentId, id))
        .orderBy(components.id)
        .limit(6);
      if (children.length) {
        const names = children.slice(0, 5).map((r) => r.id);
        throw new ApiError(
          "conflict",
          `component '${id}' is the parent of ${names.join(", ")}${children.length > 5 ? " and more" : ""}; delete or re-parent them first`,
        );
      }
      // Membership disappears by cascade; the groups' representation changes, so their etags must too.
      const now = new Date();
      const etag = newEtag();
      const touched: [GroupKind, string][] = [];
      for (const kind of ["group", "partition"] as const) {
        const { t, m, mGroup, mComp } = groupTables(kind);
        const rows = await tx
          .update(t)
          .set({ etag, updatedAt: now })
          .where(inArray(t.name, tx.select({ n: mGroup }).from(m).where(eq(mComp, id))))
          .returning({ n: t.name });
        for (const r of rows) touched.push([kind, r.n]);
      }
      const cascaded = await tx
        .select({ id: ethernetInterfaces.id })
        .from(ethernetInterfaces)
        .where(eq(ethernetInterfaces.componentId, id));
      const gone = await tx.delete(components).where(eq(components.id, id)).returning({ id: components.id });
      if (gone.length === 0) throw notFound("component", id);
      // The cascades are events of their own, so a replica needs no knowledge of them.
      const events: NewEvent[] = [
        ...cascaded.map((r) => removed("interfaces", r.id)),
        removed("components", id),
      ];
      for (const [kind, name] of touched)
        events.push(changed(groupTables(kind).resource, "updated", (await this.readGroup(tx, kind, name))!));
      await appendEvents(tx, events);
    });
  }

  // ---------- interfaces ----------

  async listInterfaces(q: ListQuery): Promise<Page<Interface>> {
    const ip = q.filters.ipAddress as string[] | undefined;
    const extra = ip?.length
      ? [
          sql`exists (select 1 from jsonb_array_elements(${ethernetInterfaces.ipAddresses}) e where e->>'ipAddress' in ${ip})`,
        ]
      : [];
    const where = whereOf(q, interfaceColumns, extra);
    const order = orderOf(q, interfaceColumns, ethernetInterfaces.id);
    const { rows, total } = await pageOf(this.db, ethernetInterfaces, where, order, q);
    return { rows: rows.map(interfaceOf), total };
  }

  async getInterface(id: string) {
    const [row] = await this.db.select().from(ethernetInterfaces).where(eq(ethernetInterfaces.id, id));
    return row ? interfaceOf(row) : undefined;
  }

  async createInterface(i: Interface) {
    try {
      return await this.db.transaction(async (tx) => {
        await this.checkInterface(tx, i, undefined);
        const now = new Date();
        const [row] = await tx
          .insert(ethernetInterfaces)
          .values({ ...interfaceValues(i), etag: newEtag(), createdAt: now, updatedAt: now })
          .returning();
        await appendEvents(tx, [changed("interfaces", "created", interfaceOf(row!))]);
        return interfaceOf(row!);
      });
    } catch (e) {
      throw raceError(e, RACES);
    }
  }

  async updateInterface(i: Interface, ifMatch: string) {
    try {
      return await this.db.transaction(async (tx) => {
        await this.checkInterface(tx, i, i.id);
        const [row] = await tx
          .update(ethernetInterfaces)
          .set({ ...interfaceValues(i), etag: newEtag(), updatedAt: new Date() })
          .where(and(eq(ethernetInterfaces.id, i.id), eq(ethernetInterfaces.etag, ifMatch)))
          .returning();
        if (!row)
          return preconditionOrMissing(
            tx,
            sql`select 1 from ${ethernetInterfaces} where ${ethernetInterfaces.id} = ${i.id}`,
            "interface",
            i.id,
          );
        await appendEvents(tx, [changed("interfaces", "updated", interfaceOf(row))]);
        return interfaceOf(row);
      });
    } catch (e) {
      throw raceError(e, RACES);
    }
  }

  private async checkInterface(tx: Tx, i: Interface, self: string | undefined) {
    const [comp] = await tx
      .select({ id: components.id })
      .from(components)
      .where(eq(components.id, i.componentId));
    if (!comp)
      throw new ApiError("validation", `component '${i.componentId}' does not exist`, {
        errors: [{ field: "componentId", message: `component '${i.componentId}' does not exist` }],
      });
    const [dup] = await tx
      .select({ id: ethernetInterfaces.id, comp: ethernetInterfaces.componentId })
      .from(ethernetInterfaces)
      .where(
        and(
          eq(ethernetInterfaces.macAddress, i.macAddress),
          self ? ne(ethernetInterfaces.id, self) : undefined,
        ),
      );
    if (dup)
      throw new ApiError(
        "conflict",
        `MAC ${i.macAddress} is already used by interface '${dup.id}' of component '${dup.comp}'`,
        {
          errors: [{ field: "macAddress", message: "already in use" }],
        },
      );
    if (!self) {
      const [same] = await tx
        .select({ id: ethernetInterfaces.id })
        .from(ethernetInterfaces)
        .where(eq(ethernetInterfaces.id, i.id));
      if (same)
        throw new ApiError("conflict", `interface '${i.id}' already exists`, {
          errors: [{ field: "id", message: "already exists" }],
        });
    }
  }

  async deleteInterface(id: string) {
    await this.db.transaction(async (tx) => {
      const gone = await tx
        .delete(ethernetInterfaces)
        .where(eq(ethernetInterfaces.id, id))
        .returning({ id: ethernetInterfaces.id });
      if (gone.length === 0) throw notFound("interface", id);
      await appendEvents(tx, [removed("interfaces", id)]);
    });
  }

  // ---------- groups and partitions ----------

  async listGroups(kind: GroupKind, q: ListQuery): Promise<Page<Group>> {
    const { t, m, mGroup, mComp } = groupTables(kind);
    const extra: (SQL | undefined)[] = [];
    const tags = q.filters.tag as string[] | undefined;
    if (tags?.length)
      extra.push(
        sql`(${sql.join(
          tags.map((tag) => sql`${t.tags} @> ${JSON.stringify([tag])}::jsonb`),
          sql` or `,
        )})`,
      );
    const members = q.filters.member as string[] | undefined;
    if (members?.length)
      extra.push(inArray(t.name, this.db.select({ n: mGroup }).from(m).where(inArray(mComp, members))));
    const cols = { name: t.name, createdAt: t.createdAt, updatedAt: t.updatedAt };
    const where = whereOf(q, cols, extra);
    const { rows, total } = await pageOf(this.db, t, where, orderOf(q, cols, t.name), q);
    const names = rows.map((r) => r.name);
    const memberRows = names.length
      ? await this.db.select({ g: mGroup, c: mComp }).from(m).where(inArray(mGroup, names)).orderBy(mComp)
      : [];
    const byGroup = new Map<string, string[]>();
    for (const r of memberRows) (byGroup.get(r.g) ?? byGroup.set(r.g, []).get(r.g)!).push(r.c);
    return { rows: rows.map((r) => groupOf(r, byGroup.get(r.name) ?? [])), total };
  }

  async getGroup(kind: GroupKind, name: string) {
    return this.readGroup(this.db, kind, name);
  }

  private async readGroup(q: Q, kind: GroupKind, name: string) {
    const { t, m, mGroup, mComp } = groupTables(kind);
    const [row] = await q.select().from(t).where(eq(t.name, name));
    if (!row) return undefined;
    const members = await q.select({ c: mComp }).from(m).where(eq(mGroup, name)).orderBy(mComp);
    return groupOf(
      row,
      members.map((r) => r.c),
    );
  }

  async createGroup(kind: GroupKind, g: Group) {
    const { t, label } = groupTables(kind);
    try {
      return await this.db.transaction(async (tx) => {
        const [exists] = await tx.select({ n: t.name }).from(t).where(eq(t.name, g.name));
        if (exists)
          throw new ApiError("conflict", `${label} '${g.name}' already exists`, {
            errors: [{ field: "name", message: "already exists" }],
          });
        await this.checkMembers(tx, kind, g.name, g.members, "members");
        const now = new Date();
        await tx.insert(t).values({
          name: g.name,
          description: g.description,
          tags: g.tags,
          etag: newEtag(),
          createdAt: now,
          updatedAt: now,
        });
        await this.insertMembers(tx, kind, g.name, g.members);
        return this.groupChanged(tx, kind, g.name, "created");
      });
    } catch (e) {
      throw raceError(e, RACES);
    }
  }

  /** The group as written, with its event. */
  private async groupChanged(tx: Tx, kind: GroupKind, name: string, action: "created" | "updated") {
    const row = (await this.readGroup(tx, kind, name))!;
    await appendEvents(tx, [changed(groupTables(kind).resource, action, row)]);
    return row;
  }

  async updateGroup(kind: GroupKind, g: Group, ifMatch: string) {
    const { t, m, mGroup, label } = groupTables(kind);
    try {
      return await this.db.transaction(async (tx) => {
        const [row] = await tx
          .update(t)
          .set({ description: g.description, tags: g.tags, etag: newEtag(), updatedAt: new Date() })
          .where(and(eq(t.name, g.name), eq(t.etag, ifMatch)))
          .returning({ n: t.name });
        if (!row)
          return preconditionOrMissing(
            tx,
            sql`select 1 from ${t} where ${t.name} = ${g.name}`,
            label,
            g.name,
          );
        await this.checkMembers(tx, kind, g.name, g.members, "members");
        await tx.delete(m).where(eq(mGroup, g.name));
        await this.insertMembers(tx, kind, g.name, g.members);
        return this.groupChanged(tx, kind, g.name, "updated");
      });
    } catch (e) {
      throw raceError(e, RACES);
    }
  }

  async deleteGroup(kind: GroupKind, name: string) {
    const { t, label, resource } = groupTables(kind);
    await this.db.transaction(async (tx) => {
      const gone = await tx.delete(t).where(eq(t.name, name)).returning({ n: t.name });
      if (gone.length === 0) throw notFound(label, name);
      await appendEvents(tx, [removed(resource, name)]);
    });
  }

  async addMembers(kind: GroupKind, name: string, ids: string[]) {
    const { t, label } = groupTables(kind);
    try {
      return await this.db.transaction(async (tx) => {
        const [row] = await tx
          .update(t)
          .set({ etag: newEtag(), updatedAt: new Date() })
          .where(eq(t.name, name))
          .returning({ n: t.name });
        if (!row) throw notFound(label, name);
        await this.checkMembers(tx, kind, name, ids, "ids");
        await this.insertMembers(tx, kind, name, ids);
        return this.groupChanged(tx, kind, name, "updated");
      });
    } catch (e) {
      throw raceError(e, RACES);
    }
  }

  async removeMember(kind: GroupKind, name: string, id: string) {
    const { t, m, mGroup, mComp, label } = groupTables(kind);
    return this.db.transaction(async (tx) => {
      const [row] = await tx
        .update(t)
        .set({ etag: newEtag(), updatedAt: new Date() })
        .where(eq(t.name, name))
        .returning({ n: t.name });
      if (!row) throw notFound(label, name);
      const gone = await tx
        .delete(m)
        .where(and(eq(mGroup, name), eq(mComp, id)))
        .returning({ c: mComp });
      if (gone.length === 0)
        throw new ApiError("not-found", `component '${id}' is not a member of ${label} '${name}'`);
      return this.groupChanged(tx, kind, name, "updated");
    });
  }

  /** Members must exist; a partition member must not be in another partition. */
  private async checkMembers(tx: Tx, kind: GroupKind, name: string, ids: string[], field: string) {
    if (ids.length === 0) return;
    const index = new Map(ids.map((id, i) => [id, i]));
    const found = new Set<string>();
    for (const part of chunks([...index.keys()], 5000))
      for (const r of await tx
        .select({ id: components.id })
        .from(components)
        .where(inArray(components.id, part)))
        found.add(r.id);
    const missing = [...index.keys()].filter((id) => !found.has(id));
    if (missing.length)
      throw new ApiError("validation", `${missing.length} member(s) do not exist`, {
        errors: missing.map((id) => ({
          field: `${field}[${index.get(id)}]`,
          message: `component '${id}' does not exist`,
        })),
      });
    if (kind !== "partition") return;
    const taken: FieldError[] = [];
    for (const part of chunks([...index.keys()], 5000)) {
      const rows = await tx
        .select({ c: partitionMembers.componentId, p: partitionMembers.partitionName })
        .from(partitionMembers)
        .where(and(inArray(partitionMembers.componentId, part), ne(partitionMembers.partitionName, name)));
      for (const r of rows)
        taken.push({
          field: `${field}[${index.get(r.c)}]`,
          message: `component '${r.c}' is already in partition '${r.p}'`,
        });
    }
    if (taken.length)
      throw new ApiError("conflict", "A component can be in only one partition", { errors: taken });
  }

  private async insertMembers(tx: Tx, kind: GroupKind, name: string, ids: string[]) {
    const unique = [...new Set(ids)];
    for (const part of chunks(unique, 5000)) {
      if (kind === "group")
        await tx
          .insert(groupMembers)
          .values(part.map((c) => ({ groupName: name, componentId: c })))
          .onConflictDoNothing();
      else
        await tx
          .insert(partitionMembers)
          .values(part.map((c) => ({ partitionName: name, componentId: c })))
          .onConflictDoNothing();
    }
  }
}

const KINDS = {
  components: "Component",
  interfaces: "EthernetInterface",
  groups: "Group",
  partitions: "Partition",
};
type InventoryResource = keyof typeof KINDS;

/** The event of a created or updated resource: its envelope as the API shows it. */
const changed = <T>(
  resource: InventoryResource,
  action: "created" | "updated",
  row: Stored<T>,
): NewEvent => ({
  service: "smd",
  resource,
  action,
  subject: row.id,
  data: toResource(KINDS[resource], HSM_API_VERSION, row),
});

const removed = (resource: InventoryResource, id: string): NewEvent => ({
  service: "smd",
  resource,
  action: "deleted",
  subject: id,
  data: { id },
});

export function groupOf(r: typeof groups.$inferSelect, members: string[]): Stored<Group> {
  return {
    id: r.name,
    etag: r.etag,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    spec: { name: r.name, description: r.description, tags: r.tags, members },
  };
}

const RACES = {
  unique: "A concurrent write created the same id or MAC; retry to see which",
  foreignKey: "A referenced component was deleted or changed concurrently; retry",
};

/** Batch order in which every parent inside the batch is inserted before its children. */
function parentsFirst(items: NewComponent[]): NewComponent[] {
  const byId = new Map(items.map((it) => [it.component.id, it]));
  const depth = new Map<string, number>();
  const depthOf = (id: string): number => {
    const known = depth.get(id);
    if (known !== undefined) return known;
    let d = 0;
    let p = byId.get(id)?.component.parentId;
    for (let hops = 0; p && byId.has(p) && hops < items.length; hops++) {
      d++;
      p = byId.get(p)!.component.parentId;
    }
    depth.set(id, d);
    return d;
  };
  return [...items].sort((a, b) => depthOf(a.component.id) - depthOf(b.component.id));
}

/** Index of an item whose in-batch parent chain loops back on itself, if any. */
function findParentCycle(items: NewComponent[]): number | undefined {
  const byId = new Map(items.map((it, i) => [it.component.id, i]));
  for (let i = 0; i < items.length; i++) {
    const seen = new Set<string>();
    let cur: string | null | undefined = items[i]!.component.id;
    while (cur && byId.has(cur)) {
      if (seen.has(cur)) return i;
      seen.add(cur);
      cur = items[byId.get(cur)!]!.component.parentId;
    }
  }
  return undefined;
}
