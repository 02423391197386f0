/** CredentialStore over Postgres: the secret column holds only sealed text. */
import { eq, type SQL, sql } from "drizzle-orm";
import type { Credential } from "../../../functions/auth/schemas";
import type { CredentialRecord, CredentialStore } from "../../../functions/auth/store";
import type { Page } from "../../../functions/inventory/store";
import type { ListQuery } from "../../../shared/list-query";
import { ApiError, notFound } from "../../../shared/problem";
import { credentials } from "../../db/schema";
import type { Db } from "../../db/types";
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

type Row = typeof credentials.$inferSelect;
type Meta = Omit<Credential, "secret">;

const columns = {
  id: credentials.id,
  name: credentials.name,
  type: credentials.type,
  username: credentials.username,
  createdAt: credentials.createdAt,
  updatedAt: credentials.updatedAt,
};

const recordOf = (r: Row): CredentialRecord => ({
  credential: storedOf(r, {
    id: r.id,
    name: r.name,
    type: r.type as Meta["type"],
    username: r.username,
    tags: r.tags,
  }),
  sealedSecret: r.sealedSecret,
});

export class PgCredentialStore implements CredentialStore {
  constructor(private readonly db: Db) {}

  async list(q: ListQuery): Promise<Page<Meta>> {
    // `?tag=site:east,site:west` is an OR of tag containments.
    const tags = (q.filters.tag as string[] | undefined)?.map((t) => {
      const i = t.indexOf(":");
      return sql`${credentials.tags} @> ${JSON.stringify({ [t.slice(0, i)]: t.slice(i + 1) })}::jsonb`;
    });
    const extra: SQL[] = tags ? [sql`(${sql.join(tags, sql` or `)})`] : [];
    const page = await pageOf(
      this.db,
      credentials,
      whereOf(q, columns, extra),
      orderOf(q, columns, credentials.id),
      q,
    );
    return { rows: page.rows.map((r) => recordOf(r).credential), total: page.total };
  }

  async get(id: string): Promise<CredentialRecord | undefined> {
    const [row] = await this.db.select().from(credentials).where(eq(credentials.id, id));
    return row && recordOf(row);
  }

  async create(c: Meta, sealedSecret: string): Promise<CredentialRecord> {
    try {
      const [row] = await this.db
        .insert(credentials)
        .values({ ...c, sealedSecret, etag: newEtag() })
        .returning();
      return recordOf(row!);
    } catch (e) {
      if (pgCode(e) === UNIQUE_VIOLATION)
        throw new ApiError("conflict", `credential '${c.id}' already exists`, {
          errors: [{ field: "id", message: "already exists" }],
        });
      throw e;
    }
  }

  async update(c: Meta, sealedSecret: string, ifMatch: string): Promise<CredentialRecord> {
    return this.db.transaction(async (tx) => {
      await matchForUpdate(
        tx.select({ etag: credentials.etag }).from(credentials).where(eq(credentials.id, c.id)).for("update"),
        ifMatch,
        "credential",
        c.id,
      );
      const [row] = await tx
        .update(credentials)
        .set({
          name: c.name,
          type: c.type,
          username: c.username,
          tags: c.tags,
          sealedSecret,
          etag: newEtag(),
          updatedAt: new Date(),
        })
        .where(eq(credentials.id, c.id))
        .returning();
      return recordOf(row!);
    });
  }

  async delete(id: string): Promise<void> {
    const gone = await this.db
      .delete(credentials)
      .where(eq(credentials.id, id))
      .returning({ id: credentials.id });
    if (gone.length === 0) throw notFound("credential", id);
  }
}
