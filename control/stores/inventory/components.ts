/**
 * The inventory store's first section: components, written in batches with
 * their interfaces. Integrity checks run inside the write transaction so
 * that their errors name the offending field; the database constraints stay
 * as the last word under races.
 */
import { eq, inArray, sql } from "drizzle-orm";
import type { Component, InventorySummary } from "../../../functions/inventory/schemas";
import type { GroupKind, NewComponent, Page } from "../../../functions/inventory/store";
import type { NewEvent } from "../../../shared/events";
import type { ListQuery } from "../../../shared/list-query";
import { ApiError, type FieldError, notFound } from "../../../shared/problem";
import { components, ethernetInterfaces } from "../../db/schema";
import type { Db, Tx } from "../../db/types";
import { appendEvents } from "../outbox";
import { chunks, matchForUpdate, newEtag, raceError, resourceReads, rowsOf } from "../pg-util";
import {
  type ComponentRow,
  changed,
  componentColumns,
  componentOf,
  componentValues,
  groupTables,
  type InterfaceRow,
  interfaceOf,
  interfaceValues,
  RACES,
  readGroup,
  removed,
} from "./rows";
import { findParentCycle, parentsFirst } from "./rules";

const componentReads = resourceReads({
  table: components,
  key: components.id,
  columns: componentColumns,
  toStored: componentOf,
});

export class PgComponentStore {
  constructor(protected readonly db: Db) {}

  // ---------- components ----------

  listComponents(q: ListQuery): Promise<Page<Component>> {
    return componentReads.list(this.db, q);
  }

  getComponent(id: string) {
    return componentReads.get(this.db, id);
  }

  async summary(): Promise<InventorySummary> {
    const rows = await this.db
      .select({
        type: components.type,
        state: components.state,
        role: components.role,
        rack: components.rack,
        n: sql<number>`count(*)::int`,
      })
      .from(components)
      .groupBy(components.type, components.state, components.role, components.rack);
    const out: InventorySummary = {
      total: 0,
      byType: {},
      nodes: { total: 0, byState: {}, byRole: {} },
      racks: [],
    };
    const add = (counts: Record<string, number>, key: string, n: number) => {
      counts[key] = (counts[key] ?? 0) + n;
    };
    const racks = new Map<string | null, InventorySummary["racks"][number]>();
    for (const r of rows) {
      out.total += r.n;
      add(out.byType, r.type, r.n);
      if (r.type !== "Node") continue;
      out.nodes.total += r.n;
      add(out.nodes.byState, r.state, r.n);
      add(out.nodes.byRole, r.role ?? "none", r.n);
      const rack = racks.get(r.rack) ?? { rack: r.rack, nodes: 0, byState: {} };
      racks.set(r.rack, rack);
      rack.nodes += r.n;
      add(rack.byState, r.state, r.n);
    }
    // By name, the unracked last.
    out.racks = [...racks.values()].sort((a, b) =>
      a.rack === null ? 1 : b.rack === null ? -1 : a.rack.localeCompare(b.rack, "en", { numeric: true }),
    );
    return out;
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
        await matchForUpdate(
          tx.select({ etag: components.etag }).from(components).where(eq(components.id, c.id)).for("update"),
          ifMatch,
          "component",
          c.id,
        );
        if (c.parentId) await this.checkParent(tx, c.id, c.parentId);
        const [row] = await tx
          .update(components)
          .set({ ...componentValues(c), etag: newEtag(), updatedAt: new Date() })
          .where(eq(components.id, c.id))
          .returning();
        await appendEvents(tx, [changed("components", "updated", componentOf(row!))]);
        return componentOf(row!);
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
        events.push(changed(groupTables(kind).resource, "updated", (await readGroup(tx, kind, name))!));
      await appendEvents(tx, events);
    });
  }
}
