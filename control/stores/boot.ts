/**
 * BootStore over Postgres (any drizzle pg driver): boot-parameter CRUD with
 * its change events, and the boot script's read port. Target checks run
 * inside the write transaction so that errors name the field; the unique
 * indexes on bss.boot_params stay the last word under races.
 */
import { and, eq, ne, or, type SQL } from "drizzle-orm";
import {
  BOOT_API_VERSION,
  BOOT_PARAMS_KIND,
  type BootParams,
  type BootParamsDraft,
} from "../../functions/boot/schemas";
import type { BootNode, BootStore, ParamsCandidates } from "../../functions/boot/store";
import type { Role } from "../../shared/enums";
import { type Resource, type Stored, toResource } from "../../shared/envelope";
import type { NewEvent } from "../../shared/events";
import type { ListQuery } from "../../shared/list-query";
import { ApiError, notFound } from "../../shared/problem";
import { bootParams, components, ethernetInterfaces } from "../db/schema";
import type { Db, Q, Tx } from "../db/types";
import { resolveArtifactRef } from "./artifacts";
import { appendEvents } from "./outbox";
import { matchForUpdate, newEtag, raceError, resourceReads, storedOf } from "./pg-util";

type Row = typeof bootParams.$inferSelect;

const columns = {
  id: bootParams.id,
  componentId: bootParams.componentId,
  role: bootParams.role,
  isDefault: bootParams.isDefault,
  createdAt: bootParams.createdAt,
  updatedAt: bootParams.updatedAt,
};

const specOf = (r: Row): BootParams => ({
  id: r.id,
  componentId: r.componentId,
  role: r.role as Role | null,
  isDefault: r.isDefault,
  kernelUri: r.kernelUri,
  initrdUri: r.initrdUri,
  cmdline: r.cmdline,
  kernel: r.kernel,
  initrd: r.initrd,
});

/** A boot_params row as the API shows it (also used by the edge snapshot feed). */
export function bootParamsOf(r: Row): Stored<BootParams> {
  return storedOf(r, specOf(r));
}

/** Every boot_params row as resource envelopes, ordered by id: for snapshots read inside `q`'s transaction. */
export async function allBootParams(q: Q): Promise<Resource<BootParams>[]> {
  const rows = await q.select().from(bootParams).orderBy(bootParams.id);
  return rows.map((r) => toResource(BOOT_PARAMS_KIND, BOOT_API_VERSION, bootParamsOf(r)));
}

const values = (p: BootParams) => ({
  id: p.id,
  componentId: p.componentId,
  role: p.role,
  isDefault: p.isDefault,
  kernelUri: p.kernelUri,
  initrdUri: p.initrdUri,
  cmdline: p.cmdline,
  kernel: p.kernel,
  initrd: p.initrd,
});

/** The draft with its artifacts resolved (422 naming the field when one cannot be used). */
async function resolved(tx: Tx, p: BootParamsDraft): Promise<BootParams> {
  return {
    ...p,
    kernel: p.kernel && (await resolveArtifactRef(tx, "kernel", p.kernel)),
    initrd: p.initrd && (await resolveArtifactRef(tx, "initrd", p.initrd)),
  };
}

const changed = (action: "created" | "updated", row: Stored<BootParams>): NewEvent => ({
  service: "bss",
  resource: "bootparams",
  action,
  subject: row.id,
  data: toResource(BOOT_PARAMS_KIND, BOOT_API_VERSION, row),
});

const nodeColumns = {
  id: components.id,
  nid: components.nid,
  role: components.role,
  enabled: components.enabled,
};

const nodeOf = (r: { id: string; nid: number | null; role: string | null; enabled: boolean }): BootNode => ({
  id: r.id,
  nid: r.nid,
  role: r.role as Role | null,
  enabled: r.enabled,
});

/** The one condition that says which target a row is for. */
function targetWhere(p: BootParams): { where: SQL; field: string; label: string } {
  if (p.componentId !== null)
    return {
      where: eq(bootParams.componentId, p.componentId),
      field: "componentId",
      label: `component '${p.componentId}'`,
    };
  if (p.role !== null) return { where: eq(bootParams.role, p.role), field: "role", label: `role ${p.role}` };
  return { where: eq(bootParams.isDefault, true), field: "isDefault", label: "the cluster default" };
}

const paramsReads = resourceReads({
  table: bootParams,
  key: bootParams.id,
  columns: columns,
  toStored: bootParamsOf,
});

export class PgBootStore implements BootStore {
  constructor(private readonly db: Db) {}

  // ---------- boot params CRUD ----------

  listParams(q: ListQuery) {
    return paramsReads.list(this.db, q);
  }

  getParams(id: string) {
    return paramsReads.get(this.db, id);
  }

  async createParams(draft: BootParamsDraft) {
    try {
      return await this.db.transaction(async (tx) => {
        const p = await resolved(tx, draft);
        const [same] = await tx.select({ id: bootParams.id }).from(bootParams).where(eq(bootParams.id, p.id));
        if (same)
          throw new ApiError("conflict", `boot parameters '${p.id}' already exist`, {
            errors: [{ field: "id", message: "already exists" }],
          });
        await this.checkTarget(tx, p);
        const now = new Date();
        const [row] = await tx
          .insert(bootParams)
          .values({ ...values(p), etag: newEtag(), createdAt: now, updatedAt: now })
          .returning();
        const stored = bootParamsOf(row!);
        await appendEvents(tx, [changed("created", stored)]);
        return stored;
      });
    } catch (e) {
      throw raceError(e, RACES);
    }
  }

  async updateParams(draft: BootParamsDraft, ifMatch: string) {
    try {
      return await this.db.transaction(async (tx) => {
        const p = await resolved(tx, draft);
        // Locked, so that the target check and the write see the same row.
        await matchForUpdate(
          tx.select({ etag: bootParams.etag }).from(bootParams).where(eq(bootParams.id, p.id)).for("update"),
          ifMatch,
          "boot parameters",
          p.id,
        );
        await this.checkTarget(tx, p);
        const [row] = await tx
          .update(bootParams)
          .set({ ...values(p), etag: newEtag(), updatedAt: new Date() })
          .where(eq(bootParams.id, p.id))
          .returning();
        const stored = bootParamsOf(row!);
        await appendEvents(tx, [changed("updated", stored)]);
        return stored;
      });
    } catch (e) {
      throw raceError(e, RACES);
    }
  }

  async deleteParams(id: string) {
    await this.db.transaction(async (tx) => {
      const gone = await tx.delete(bootParams).where(eq(bootParams.id, id)).returning({ id: bootParams.id });
      if (gone.length === 0) throw notFound("boot parameters", id);
      await appendEvents(tx, [
        { service: "bss", resource: "bootparams", action: "deleted", subject: id, data: { id } },
      ]);
    });
  }

  /** The target is free (no other row has it) and, for a component, the component exists. */
  private async checkTarget(tx: Tx, p: BootParams) {
    const t = targetWhere(p);
    const [taken] = await tx
      .select({ id: bootParams.id })
      .from(bootParams)
      .where(and(t.where, ne(bootParams.id, p.id)));
    if (taken)
      throw new ApiError(
        "conflict",
        `${t.label} already has boot parameters ('${taken.id}'); change those instead`,
        {
          errors: [{ field: t.field, message: `already has boot parameters '${taken.id}'` }],
        },
      );
    if (p.componentId === null) return;
    const [comp] = await tx
      .select({ id: components.id })
      .from(components)
      .where(eq(components.id, p.componentId));
    if (!comp)
      throw new ApiError("validation", `component '${p.componentId}' does not exist`, {
        errors: [
          { field: "componentId", message: `component '${p.componentId}' does not exist in the inventory` },
        ],
      });
  }

  // ---------- the boot script's reads ----------

  async nodeByMac(mac: string) {
    const [r] = await this.db
      .select(nodeColumns)
      .from(ethernetInterfaces)
      .innerJoin(components, eq(components.id, ethernetInterfaces.componentId))
      .where(eq(ethernetInterfaces.macAddress, mac));
    return r ? nodeOf(r) : undefined;
  }

  async nodeById(id: string) {
    const [r] = await this.db.select(nodeColumns).from(components).where(eq(components.id, id));
    return r ? nodeOf(r) : undefined;
  }

  async nodesByNid(nid: number, limit: number) {
    const rows = await this.db
      .select(nodeColumns)
      .from(components)
      .where(eq(components.nid, nid))
      .orderBy(components.id)
      .limit(limit);
    return rows.map(nodeOf);
  }

  async paramsFor(componentId: string, role: Role | null): Promise<ParamsCandidates> {
    const rows = await this.db
      .select()
      .from(bootParams)
      .where(
        or(
          eq(bootParams.componentId, componentId),
          role === null ? undefined : eq(bootParams.role, role),
          eq(bootParams.isDefault, true),
        ),
      );
    const out: ParamsCandidates = {};
    for (const r of rows) {
      const p = specOf(r);
      if (r.componentId !== null) out.component = p;
      else if (r.role !== null) out.role = p;
      else out.default = p;
    }
    return out;
  }
}

const RACES = { unique: "A concurrent write took the same id or target; retry to see which" };
