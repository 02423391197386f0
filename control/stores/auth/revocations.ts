/** RevocationStore over Postgres; expired revocations are filtered on read and pruned. */
import { and, asc, eq, gt, lt, sql } from "drizzle-orm";
import { AUTH_API_VERSION, type Revocation } from "../../../functions/auth/schemas";
import type { RevocationStore } from "../../../functions/auth/store";
import { type Stored, toResource } from "../../../shared/envelope";
import { revocations } from "../../db/schema";
import type { Db } from "../../db/types";
import { appendEvents } from "../outbox";
import { newEtag } from "../pg-util";

export const revocationOf = (r: typeof revocations.$inferSelect): Stored<Revocation> => ({
  id: r.jti,
  etag: r.etag,
  createdAt: r.createdAt,
  updatedAt: r.updatedAt,
  spec: { jti: r.jti, reason: r.reason, expiresAt: r.expiresAt.toISOString() },
});

export class PgRevocationStore implements RevocationStore {
  constructor(private readonly db: Db) {}

  async revoke(r: { jti: string; reason: string; expiresAt: Date }): Promise<Stored<Revocation>> {
    return this.db.transaction(async (tx) => {
      const [row] = await tx
        .insert(revocations)
        .values({ ...r, etag: newEtag() })
        .onConflictDoUpdate({
          target: revocations.jti,
          // Revoking again keeps the later expiry and the newest reason.
          set: {
            reason: r.reason,
            expiresAt: sql`greatest(${revocations.expiresAt}, excluded.expires_at)`,
            etag: newEtag(),
            updatedAt: new Date(),
          },
        })
        .returning();
      const stored = revocationOf(row!);
      // Edge nodes learn revocations from the stream; expiry needs no event (it is in the data).
      await appendEvents(tx, [
        {
          service: "auth",
          resource: "revocations",
          action: "created",
          subject: stored.id,
          data: toResource("Revocation", AUTH_API_VERSION, stored),
        },
      ]);
      return stored;
    });
  }

  async isRevoked(jti: string, now: Date): Promise<boolean> {
    const rows = await this.db
      .select({ jti: revocations.jti })
      .from(revocations)
      .where(and(eq(revocations.jti, jti), gt(revocations.expiresAt, now)))
      .limit(1);
    return rows.length > 0;
  }

  async active(now: Date): Promise<Stored<Revocation>[]> {
    const rows = await this.db
      .select()
      .from(revocations)
      .where(gt(revocations.expiresAt, now))
      .orderBy(asc(revocations.createdAt), asc(revocations.jti));
    return rows.map(revocationOf);
  }

  async prune(now: Date): Promise<number> {
    const gone = await this.db
      .delete(revocations)
      .where(lt(revocations.expiresAt, now))
      .returning({ jti: revocations.jti });
    return gone.length;
  }
}
