/** KeyStore over Postgres: the signing keys of one purpose, with their publication windows. */
import { and, desc, eq, gt, isNull, lt, ne, or, sql } from "drizzle-orm";
import type { KeyPurpose, KeyStore, SigningKeyRow } from "../../../functions/auth/store";
import { signingKeys } from "../../db/schema";
import type { Db } from "../../db/types";

export class PgKeyStore implements KeyStore {
  constructor(
    private readonly db: Db,
    /** `token` keys sign access tokens, `bundle` keys air-gap bundles: neither sees the other's. */
    private readonly purpose: KeyPurpose = "token",
  ) {}

  async published(now: Date): Promise<SigningKeyRow[]> {
    const rows = await this.db
      .select()
      .from(signingKeys)
      .where(
        and(
          eq(signingKeys.purpose, this.purpose),
          or(isNull(signingKeys.retiredAt), gt(signingKeys.publishedUntil, now)),
        ),
      )
      .orderBy(desc(signingKeys.createdAt));
    return rows.map(({ purpose: _, ...r }) => ({ ...r, alg: r.alg as SigningKeyRow["alg"] }));
  }

  async activate(
    key: SigningKeyRow,
    opts: { previousUntil: Date; dropOlder: boolean; onlyIfNone: boolean },
  ): Promise<void> {
    const mine = eq(signingKeys.purpose, this.purpose);
    await this.db.transaction(async (tx) => {
      // Serialize rotations: two at once would otherwise both retire the same key.
      await tx.execute(sql`lock table ${signingKeys} in share row exclusive mode`);
      const [active] = await tx
        .select()
        .from(signingKeys)
        .where(and(mine, isNull(signingKeys.retiredAt)));
      if (active && opts.onlyIfNone) return;
      const now = new Date();
      if (active)
        await tx
          .update(signingKeys)
          .set({ retiredAt: now, publishedUntil: opts.dropOlder ? now : opts.previousUntil })
          .where(eq(signingKeys.kid, active.kid));
      if (opts.dropOlder)
        await tx
          .update(signingKeys)
          .set({ publishedUntil: now })
          .where(and(mine, ne(signingKeys.kid, key.kid), gt(signingKeys.publishedUntil, now)));
      // Keys out of the JWKS for a day are of no further use.
      await tx
        .delete(signingKeys)
        .where(and(mine, lt(signingKeys.publishedUntil, new Date(now.getTime() - 86_400_000))));
      await tx
        .insert(signingKeys)
        .values({ ...key, purpose: this.purpose, retiredAt: null, publishedUntil: null });
    });
  }
}
