/**
 * Subject revocations in the edge replica: a revocation event naming an
 * account (`subject`, `issuedBefore`) refuses that account's tokens issued
 * before it and no later one; a jti revocation still works alone; a half
 * subject revocation is refused as malformed; and a replica created before
 * these columns existed is migrated at open, keeping its rows.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import Database from "better-sqlite3";
import { drizzle } from "drizzle-orm/better-sqlite3";
import { migrate } from "drizzle-orm/better-sqlite3/migrator";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { openBetterSqlite } from "../../edge-node/node/sqlite";
import { Replica, ReplicaEventError } from "../../edge-node/replica";
import { REPLICA_FILE, REPLICA_MIGRATIONS_DIR } from "../../edge-node/replica/replica";
import type { ChangeEvent } from "../../shared/events";

const T = "2026-01-01T00:00:00.000Z";
const FUTURE = new Date(Date.now() + 86_400_000).toISOString();
const empty = (position: number) => ({
  position,
  components: [],
  interfaces: [],
  groups: [],
  partitions: [],
  bootparams: [],
  payloads: [],
  revocations: [],
});

function revocationEvent(position: number, spec: Record<string, unknown>): ChangeEvent {
  const jti = String(spec.jti);
  return {
    specversion: "1.0",
    id: `00000000-0000-4000-8000-${String(position).padStart(12, "0")}`,
    source: "chamicore-control",
    type: "chamicore.auth.revocations.created",
    subject: jti,
    time: T,
    datacontenttype: "application/json",
    data: {
      kind: "Revocation",
      apiVersion: "auth/v1",
      metadata: { id: jti, etag: "e", createdAt: T, updatedAt: T },
      spec: { reason: "test", expiresAt: FUTURE, ...spec },
    },
    position,
  };
}

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "chamicore-subject-rev-"));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe("subject revocations in the replica", () => {
  it("refuses the account's tokens issued before the cutoff, to the millisecond, and no others", () => {
    const replica = Replica.open(join(dir, "edge"), { sqlite: openBetterSqlite });
    try {
      replica.applySnapshot(empty(1));
      // Half a second into the current second, so that tokens on either side share one `iat`.
      const second = Math.floor(Date.now() / 1000) * 1000;
      const cutoff = new Date(second + 500);
      replica.applyEvents([
        revocationEvent(2, {
          jti: `sub:victim:${cutoff.getTime()}`,
          subject: "victim",
          issuedBefore: cutoff.toISOString(),
        }),
        revocationEvent(3, { jti: "leaked-jti" }),
      ]);
      const now = new Date();
      const at = (ms: number) => new Date(second + ms);
      expect(replica.isRevoked("t1", now, { sub: "victim", issuedAt: at(499) })).toBe(true);
      expect(replica.isRevoked("t2", now, { sub: "victim", issuedAt: at(500) })).toBe(false);
      expect(replica.isRevoked("t3", now, { sub: "other", issuedAt: at(-86_400_000) })).toBe(false);
      expect(replica.isRevoked("leaked-jti", now)).toBe(true);
      expect(replica.isRevoked("leaked-jti", now, { sub: "other", issuedAt: now })).toBe(true);
      // Past its expiry, a subject revocation refuses nothing.
      expect(
        replica.isRevoked("t1", new Date(Date.parse(FUTURE) + 1), { sub: "victim", issuedAt: at(0) }),
      ).toBe(false);
      expect(replica.dump().revocations.map((r) => r.spec)).toContainEqual(
        expect.objectContaining({ subject: "victim", issuedBefore: cutoff.toISOString() }),
      );
    } finally {
      replica.close();
    }
  });

  it("refuses a subject without issuedBefore, and the other way round, applying nothing", () => {
    const replica = Replica.open(join(dir, "edge"), { sqlite: openBetterSqlite });
    try {
      replica.applySnapshot(empty(1));
      for (const spec of [
        { jti: "sub:half:1", subject: "half" },
        { jti: "sub:half:2", issuedBefore: T },
        { jti: "sub:half:3", subject: "half", issuedBefore: "yesterday" },
      ]) {
        expect(() => replica.applyEvents([revocationEvent(2, spec)])).toThrow(ReplicaEventError);
        expect(replica.position()).toBe(1);
      }
    } finally {
      replica.close();
    }
  });

  it("migrates a replica made before subject revocations, keeping its revocations", () => {
    // The migrations as an edge of the previous release had them: the first one only.
    const old = join(dir, "old-migrations");
    cpSync(REPLICA_MIGRATIONS_DIR, old, { recursive: true });
    const journalPath = join(old, "meta", "_journal.json");
    const journal = JSON.parse(readFileSync(journalPath, "utf8"));
    journal.entries = journal.entries.slice(0, 1);
    writeFileSync(journalPath, JSON.stringify(journal));

    mkdirSync(join(dir, "edge"));
    const db = new Database(join(dir, "edge", REPLICA_FILE));
    migrate(drizzle(db), { migrationsFolder: old });
    db.prepare("insert into replica_state (id, position) values (1, 2)").run();
    db.prepare("insert into revocations (jti, expires_at, position, doc) values (?, ?, 2, ?)").run(
      "kept-jti",
      Date.parse(FUTURE),
      JSON.stringify(revocationEvent(2, { jti: "kept-jti" }).data),
    );
    db.close();

    const after = Replica.open(join(dir, "edge"), { sqlite: openBetterSqlite });
    try {
      expect(after.position()).toBe(2);
      expect(after.isRevoked("kept-jti", new Date())).toBe(true);
      after.applyEvents([revocationEvent(3, { jti: "sub:late:1", subject: "late", issuedBefore: FUTURE })]);
      expect(after.isRevoked("any", new Date(), { sub: "late", issuedAt: new Date() })).toBe(true);
    } finally {
      after.close();
    }
  });
});
