/**
 * AccountStore over Postgres. An account's roles are Casbin `g` lines, the
 * same rows the role-membership endpoints manage, written in the account's
 * transaction: one source of truth for who holds which role.
 */
import { and, eq, inArray, sql } from "drizzle-orm";
import type { ServiceAccount } from "../../../functions/auth/schemas";
import type { AccountRecord, AccountStore } from "../../../functions/auth/store";
import type { Page } from "../../../functions/inventory/store";
import type { Stored } from "../../../shared/envelope";
import { randomHex } from "../../../shared/ids";
import type { ListQuery } from "../../../shared/list-query";
import { ApiError, notFound } from "../../../shared/problem";
import { casbinRules, serviceAccounts } from "../../db/schema";
import type { Db, Tx } from "../../db/types";
import {
  matchForUpdate,
  newEtag,
  orderOf,
  pageOf,
  pgCode,
  storedOf,
  UNIQUE_VIOLATION,
  whereOf,
} from "../pg-util";
import { revokeSubject } from "./revocations";

type Row = typeof serviceAccounts.$inferSelect;

const columns = {
  id: serviceAccounts.id,
  enabled: serviceAccounts.enabled,
  createdAt: serviceAccounts.createdAt,
  updatedAt: serviceAccounts.updatedAt,
};

const accountOf = (r: Row, roles: string[]): Stored<ServiceAccount> =>
  storedOf(r, { id: r.id, description: r.description, roles, scopes: r.scopes ?? null, enabled: r.enabled });

export const membershipId = () => `g-${randomHex(8)}`;

export class PgAccountStore implements AccountStore {
  constructor(private readonly db: Db) {}

  private async rolesOf(q: Db | Tx, ids: string[]): Promise<Map<string, string[]>> {
    const out = new Map<string, string[]>(ids.map((id) => [id, []]));
    if (ids.length === 0) return out;
    const rows = await q
      .select({ v0: casbinRules.v0, v1: casbinRules.v1 })
      .from(casbinRules)
      .where(and(eq(casbinRules.ptype, "g"), inArray(casbinRules.v0, ids)))
      .orderBy(casbinRules.v1);
    for (const r of rows) out.get(r.v0)?.push(r.v1);
    return out;
  }

  private async setRoles(tx: Tx, id: string, roles: string[]) {
    await tx.delete(casbinRules).where(and(eq(casbinRules.ptype, "g"), eq(casbinRules.v0, id)));
    const unique = [...new Set(roles)];
    if (unique.length > 0)
      await tx
        .insert(casbinRules)
        .values(unique.map((role) => ({ id: membershipId(), ptype: "g", v0: id, v1: role })));
  }

  async list(q: ListQuery): Promise<Page<ServiceAccount>> {
    const role = q.filters.role as string[] | undefined;
    const extra = role
      ? [
          inArray(
            serviceAccounts.id,
            this.db
              .select({ id: casbinRules.v0 })
              .from(casbinRules)
              .where(and(eq(casbinRules.ptype, "g"), inArray(casbinRules.v1, role))),
          ),
        ]
      : [];
    const page = await pageOf(
      this.db,
      serviceAccounts,
      whereOf(q, columns, extra),
      orderOf(q, columns, serviceAccounts.id),
      q,
    );
    const roles = await this.rolesOf(
      this.db,
      page.rows.map((r) => r.id),
    );
    return { rows: page.rows.map((r) => accountOf(r, roles.get(r.id) ?? [])), total: page.total };
  }

  async get(id: string): Promise<AccountRecord | undefined> {
    const [row] = await this.db.select().from(serviceAccounts).where(eq(serviceAccounts.id, id));
    if (!row) return undefined;
    const roles = await this.rolesOf(this.db, [id]);
    return { account: accountOf(row, roles.get(id) ?? []), secretHash: row.secretHash };
  }

  async count(): Promise<number> {
    const [row] = await this.db.select({ n: sql<number>`count(*)::int` }).from(serviceAccounts);
    return Number(row?.n ?? 0);
  }

  async create(a: ServiceAccount, secretHash: string): Promise<Stored<ServiceAccount>> {
    try {
      return await this.db.transaction(async (tx) => {
        const [row] = await tx
          .insert(serviceAccounts)
          .values({
            id: a.id,
            description: a.description,
            scopes: a.scopes,
            enabled: a.enabled,
            secretHash,
            etag: newEtag(),
          })
          .returning();
        await this.setRoles(tx, a.id, a.roles);
        return accountOf(row!, [...new Set(a.roles)].sort());
      });
    } catch (e) {
      if (pgCode(e) === UNIQUE_VIOLATION)
        throw new ApiError("conflict", `service account '${a.id}' already exists`, {
          errors: [{ field: "id", message: "already exists" }],
        });
      throw e;
    }
  }

  async update(
    a: ServiceAccount,
    ifMatch: string,
    tokenLifetime: number,
    secretHash?: string,
  ): Promise<Stored<ServiceAccount>> {
    return this.db.transaction(async (tx) => {
      // Locked, so that a concurrent update cannot hide the enabled → disabled step from this one.
      const before = await matchForUpdate(
        tx
          .select({ enabled: serviceAccounts.enabled, etag: serviceAccounts.etag })
          .from(serviceAccounts)
          .where(eq(serviceAccounts.id, a.id))
          .for("update"),
        ifMatch,
        "service account",
        a.id,
      );
      const [row] = await tx
        .update(serviceAccounts)
        .set({
          description: a.description,
          scopes: a.scopes,
          enabled: a.enabled,
          ...(secretHash ? { secretHash } : {}),
          etag: newEtag(),
          updatedAt: new Date(),
        })
        .where(eq(serviceAccounts.id, a.id))
        .returning();
      await this.setRoles(tx, a.id, a.roles);
      // Tokens carry their scopes; only a revocation stops the ones already out.
      const why = secretHash
        ? `service account '${a.id}' was given a new secret`
        : before.enabled && !a.enabled
          ? `service account '${a.id}' was disabled`
          : undefined;
      if (why) await revokeSubject(tx, a.id, why, tokenLifetime);
      return accountOf(row!, [...new Set(a.roles)].sort());
    });
  }

  async delete(id: string, tokenLifetime: number): Promise<void> {
    await this.db.transaction(async (tx) => {
      const gone = await tx
        .delete(serviceAccounts)
        .where(eq(serviceAccounts.id, id))
        .returning({ id: serviceAccounts.id });
      if (gone.length === 0) throw notFound("service account", id);
      await tx.delete(casbinRules).where(and(eq(casbinRules.ptype, "g"), eq(casbinRules.v0, id)));
      await revokeSubject(tx, id, `service account '${id}' was deleted`, tokenLifetime);
    });
  }
}
