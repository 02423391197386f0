/**
 * The inventory store's second section: ethernet interfaces, one MAC each,
 * unique across the inventory, each on an existing component.
 */
import { and, eq, ne, sql } from "drizzle-orm";
import type { Interface } from "../../../functions/inventory/schemas";
import type { Page } from "../../../functions/inventory/store";
import type { ListQuery } from "../../../shared/list-query";
import { ApiError, notFound } from "../../../shared/problem";
import { components, ethernetInterfaces } from "../../db/schema";
import type { Tx } from "../../db/types";
import { appendEvents } from "../outbox";
import { matchForUpdate, newEtag, raceError, resourceReads } from "../pg-util";
import { PgComponentStore } from "./components";
import { changed, interfaceColumns, interfaceOf, interfaceValues, RACES, removed } from "./rows";

const interfaceReads = resourceReads({
  table: ethernetInterfaces,
  key: ethernetInterfaces.id,
  columns: interfaceColumns,
  toStored: interfaceOf,
});

export class PgInterfaceStore extends PgComponentStore {
  // ---------- interfaces ----------

  listInterfaces(q: ListQuery): Promise<Page<Interface>> {
    const ip = q.filters.ipAddress as string[] | undefined;
    const extra = ip?.length
      ? [
          sql`exists (select 1 from jsonb_array_elements(${ethernetInterfaces.ipAddresses}) e where e->>'ipAddress' in ${ip})`,
        ]
      : [];
    return interfaceReads.list(this.db, q, extra);
  }

  getInterface(id: string) {
    return interfaceReads.get(this.db, id);
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
        await matchForUpdate(
          tx
            .select({ etag: ethernetInterfaces.etag })
            .from(ethernetInterfaces)
            .where(eq(ethernetInterfaces.id, i.id))
            .for("update"),
          ifMatch,
          "interface",
          i.id,
        );
        await this.checkInterface(tx, i, i.id);
        const [row] = await tx
          .update(ethernetInterfaces)
          .set({ ...interfaceValues(i), etag: newEtag(), updatedAt: new Date() })
          .where(eq(ethernetInterfaces.id, i.id))
          .returning();
        await appendEvents(tx, [changed("interfaces", "updated", interfaceOf(row!))]);
        return interfaceOf(row!);
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
}
