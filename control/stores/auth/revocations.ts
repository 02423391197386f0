/**
 * RevocationStore over Postgres; expired revocations are filtered on read and
 * pruned. Two kinds share the table: a token's own jti (POST
 * /auth/v1/token/revoke), and a subject revocation (`subject` and
 * `issued_before` set) that ends every token of a service account issued
 * before the account was deleted, disabled or given a new secret.
 */
import { and, asc, eq, gt, lt, or, sql } from "drizzle-orm";
import { AUTH_API_VERSION, type Revocation } from "../../../functions/auth/schemas";
import type { RevocationStore, RevokedBy, TokenIdentity } from "../../../functions/auth/store";
import { type Stored, toResource } from "../../../shared/envelope";
import { randomHex } from "../../../shared/ids";
import { revocations } from "../../db/schema";
import type { Db, Tx } from "../../db/types";
import { appendEvents } from "../outbox";
import { newEtag } from "../pg-util";

export const revocationOf = (r: typeof revocations.$inferSelect): Stored<Revocation> => ({
  id: r.jti,
  etag: r.etag,
  createdAt: r.createdAt,
  updatedAt: r.updatedAt,
  spec: {
    jti: r.jti,
    reason: r.reason,
    expiresAt: r.expiresAt.toISOString(),
    // Only subject revocations carry these, so a jti revocation's document is as before.
    ...(r.subject !== null ? { subject: r.subject } : {}),
    ...(r.issuedBefore !== null ? { issuedBefore: r.issuedBefore.toISOString() } : {}),
  },
});

/** Edge nodes learn revocations from the stream; expiry needs no event (it is in the data). */
const revocationEvent = (stored: Stored<Revocation>) => ({
  service: "auth" as const,
  resource: "revocations",
  action: "created" as const,
  subject: stored.id,
  data: toResource("Revocation", AUTH_API_VERSION, stored),
});

/**
 * The key of a subject revocation: readable (`sub:<account>:<epoch ms>`)
 * when that fits the 255 characters of a jti, random otherwise; the account
 * is in `subject` either way.
 */
function subjectRevocationKey(subject: string, at: Date): string {
  const key = `sub:${subject}:${at.getTime()}`;
  return key.length <= 255 ? key : `sub:${randomHex(16)}:${at.getTime()}`;
}

/**
 * Ends every token of `subject` issued until now, inside the caller's
 * transaction (the account change that calls for it), with its event for
 * the edges. Kept `tokenLifetime` seconds: by then every token it covers
 * has expired.
 */
export async function revokeSubject(
  tx: Tx,
  subject: string,
  reason: string,
  tokenLifetime: number,
): Promise<Stored<Revocation>> {
  // Taken last thing before commit, so that the window in which a token from the old state is issued after it stays small.
  const at = new Date();
  const [row] = await tx
    .insert(revocations)
    .values({
      jti: subjectRevocationKey(subject, at),
      reason,
      expiresAt: new Date(at.getTime() + tokenLifetime * 1000),
      subject,
      issuedBefore: at,
      etag: newEtag(),
    })
    // Two changes of one account in the same millisecond: one revocation covers both.
    .onConflictDoUpdate({
      target: revocations.jti,
      set: { reason, etag: newEtag(), updatedAt: new Date() },
    })
    .returning();
  const stored = revocationOf(row!);
  await appendEvents(tx, [revocationEvent(stored)]);
  return stored;
}

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
      await appendEvents(tx, [revocationEvent(stored)]);
      return stored;
    });
  }

  async revokedBy(t: TokenIdentity, now: Date): Promise<RevokedBy | undefined> {
    // The primary key finds a jti revocation, the partial subject index a subject one.
    const [row] = await this.db
      .select({ jti: revocations.jti, reason: revocations.reason, subject: revocations.subject })
      .from(revocations)
      .where(
        and(
          gt(revocations.expiresAt, now),
          or(
            eq(revocations.jti, t.jti),
            and(eq(revocations.subject, t.sub), gt(revocations.issuedBefore, t.issuedAt)),
          ),
        ),
      )
      .limit(1);
    if (!row) return undefined;
    return row.subject !== null && row.jti !== t.jti
      ? { jti: row.jti, reason: row.reason, subject: row.subject }
      : { jti: row.jti, reason: row.reason };
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
