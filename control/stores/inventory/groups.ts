/**
 * The inventory store's third section: groups and partitions, which share
 * one shape (./rows groupTables); a component can be in only one partition.
 */
import { and, eq, inArray, ne, type SQL, sql } from "drizzle-orm";
import type { Group } from "../../../functions/inventory/schemas";
import type { GroupKind, Page } from "../../../functions/inventory/store";
import type { ListQuery } from "../../../shared/list-query";
import { ApiError, type FieldError, notFound } from "../../../shared/problem";
import { components, groupMembers, partitionMembers } from "../../db/schema";
import type { Tx } from "../../db/types";
import { appendEvents } from "../outbox";
import { chunks, matchForUpdate, newEtag, orderOf, pageOf, raceError, whereOf } from "../pg-util";
import { PgInterfaceStore } from "./interfaces";
import { changed, groupOf, groupTables, RACES, readGroup, removed } from "./rows";

export class PgGroupStore extends PgInterfaceStore {
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
    return readGroup(this.db, kind, name);
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
    const row = (await readGroup(tx, kind, name))!;
    await appendEvents(tx, [changed(groupTables(kind).resource, action, row)]);
    return row;
  }

  async updateGroup(kind: GroupKind, g: Group, ifMatch: string) {
    const { t, m, mGroup, label } = groupTables(kind);
    try {
      return await this.db.transaction(async (tx) => {
        await matchForUpdate(
          tx.select({ etag: t.etag }).from(t).where(eq(t.name, g.name)).for("update"),
          ifMatch,
          label,
          g.name,
        );
        await tx
          .update(t)
          .set({ description: g.description, tags: g.tags, etag: newEtag(), updatedAt: new Date() })
          .where(eq(t.name, g.name));
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
