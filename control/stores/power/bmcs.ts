/**
 * The power store's first section: BMC endpoints (the Redfish address and
 * credential of each NodeBMC component) and the resolution of power targets
 * (nodes, BMCs, groups) to the endpoints that act on them.
 */
import { eq, inArray } from "drizzle-orm";
import { alias } from "drizzle-orm/pg-core";
import type { BmcEndpoint } from "../../../functions/power/schemas";
import type { PowerTarget } from "../../../functions/power/store";
import type { ListQuery } from "../../../shared/list-query";
import { ApiError, notFound } from "../../../shared/problem";
import { bmcEndpoints, components, credentials } from "../../db/schema";
import type { Db, Tx } from "../../db/types";
import { appendEvents } from "../outbox";
import { chunks, matchForUpdate, newEtag, raceError, resourceReads } from "../pg-util";
import { bmcChanged, bmcColumns, bmcOf } from "./rows";

const bmcReads = resourceReads({
  table: bmcEndpoints,
  key: bmcEndpoints.id,
  columns: bmcColumns,
  toStored: bmcOf,
});

export class PgBmcStore {
  constructor(protected readonly db: Db) {}

  // ---------- BMC endpoints ----------

  listBmcs(q: ListQuery) {
    return bmcReads.list(this.db, q);
  }

  getBmc(id: string) {
    return bmcReads.get(this.db, id);
  }

  async createBmc(b: BmcEndpoint) {
    try {
      return await this.db.transaction(async (tx) => {
        const [same] = await tx
          .select({ id: bmcEndpoints.id })
          .from(bmcEndpoints)
          .where(eq(bmcEndpoints.id, b.id));
        if (same)
          throw new ApiError("conflict", `BMC endpoint '${b.id}' already exists; change it instead`, {
            errors: [{ field: "id", message: "already exists" }],
          });
        await checkBmcRefs(tx, b);
        const now = new Date();
        const [row] = await tx
          .insert(bmcEndpoints)
          .values({ ...b, etag: newEtag(), createdAt: now, updatedAt: now })
          .returning();
        const stored = bmcOf(row!);
        await appendEvents(tx, [bmcChanged("created", stored)]);
        return stored;
      });
    } catch (e) {
      throw raceError(e, { unique: `A concurrent request created BMC endpoint '${b.id}'` });
    }
  }

  async updateBmc(b: BmcEndpoint, ifMatch: string) {
    return this.db.transaction(async (tx) => {
      await matchForUpdate(
        tx
          .select({ etag: bmcEndpoints.etag })
          .from(bmcEndpoints)
          .where(eq(bmcEndpoints.id, b.id))
          .for("update"),
        ifMatch,
        "BMC endpoint",
        b.id,
      );
      await checkBmcRefs(tx, b);
      const [row] = await tx
        .update(bmcEndpoints)
        .set({ ...b, etag: newEtag(), updatedAt: new Date() })
        .where(eq(bmcEndpoints.id, b.id))
        .returning();
      const stored = bmcOf(row!);
      await appendEvents(tx, [bmcChanged("updated", stored)]);
      return stored;
    });
  }

  async deleteBmc(id: string) {
    await this.db.transaction(async (tx) => {
      const gone = await tx
        .delete(bmcEndpoints)
        .where(eq(bmcEndpoints.id, id))
        .returning({ id: bmcEndpoints.id });
      if (gone.length === 0) throw notFound("BMC endpoint", id);
      await appendEvents(tx, [
        { service: "power", resource: "bmcs", action: "deleted", subject: id, data: { id } },
      ]);
    });
  }

  // ---------- resolution ----------

  async targets(ids: string[]): Promise<PowerTarget[]> {
    if (ids.length === 0) return [];
    const parent = alias(components, "parent");
    const out: PowerTarget[] = [];
    for (const part of chunks(ids, 5000)) {
      const rows = await this.db
        .select({
          id: components.id,
          type: components.type,
          parentId: parent.id,
          parentType: parent.type,
          endpointId: bmcEndpoints.id,
          site: bmcEndpoints.site,
          address: bmcEndpoints.address,
          credentialId: bmcEndpoints.credentialId,
          credentialFound: credentials.id,
        })
        .from(components)
        .leftJoin(parent, eq(parent.id, components.parentId))
        .leftJoin(bmcEndpoints, eq(bmcEndpoints.id, parent.id))
        .leftJoin(credentials, eq(credentials.id, bmcEndpoints.credentialId))
        .where(inArray(components.id, part));
      for (const r of rows)
        out.push({
          id: r.id,
          type: r.type,
          parent: r.parentId === null ? null : { id: r.parentId, type: r.parentType! },
          endpoint:
            r.endpointId === null
              ? null
              : { id: r.endpointId, site: r.site, address: r.address!, credentialId: r.credentialId! },
          credentialExists: r.credentialFound !== null,
        });
    }
    return out;
  }
}

/** The endpoint's component exists and is a NodeBMC; its credential exists. */
async function checkBmcRefs(tx: Tx, b: BmcEndpoint) {
  const [comp] = await tx.select({ type: components.type }).from(components).where(eq(components.id, b.id));
  if (!comp)
    throw new ApiError(
      "validation",
      `component '${b.id}' does not exist: create the BMC in the inventory first`,
      {
        errors: [{ field: "id", message: `component '${b.id}' does not exist in the inventory` }],
      },
    );
  if (comp.type !== "NodeBMC")
    throw new ApiError("validation", `component '${b.id}' is a ${comp.type}, not a NodeBMC`, {
      errors: [{ field: "id", message: `must be a NodeBMC component (it is a ${comp.type})` }],
    });
  const [cred] = await tx
    .select({ id: credentials.id })
    .from(credentials)
    .where(eq(credentials.id, b.credentialId));
  if (!cred)
    throw new ApiError("validation", `credential '${b.credentialId}' does not exist`, {
      errors: [
        {
          field: "credentialId",
          message: `credential '${b.credentialId}' does not exist (store it with POST /auth/v1/credentials)`,
        },
      ],
    });
}
