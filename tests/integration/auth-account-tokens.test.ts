/**
 * A service account's tokens end with the account (issue 16, defect 4), on
 * Node with PGlite, Node with Postgres and the Worker in workerd: deleting
 * the account, disabling it (PATCH enabled=false) or resetting its secret
 * makes its tokens fail on the very next request with a 401 that says why,
 * while a token issued right after a reset (in the same second) works and a
 * change that ends nothing (a new description) leaves tokens alone. An edge
 * replica following the change feed, and one starting from a snapshot,
 * holds the subject revocations and refuses the same tokens.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { decodeJwt } from "jose";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openBetterSqlite } from "../../edge-node/node/sqlite";
import { Replica } from "../../edge-node/replica";
import type { Snapshot } from "../../functions/events/store";
import {
  type Call,
  nodePgliteTarget,
  nodePostgresTarget,
  type Target,
  tokenFor,
  workerTarget,
} from "../support/targets";

const COMPONENTS = "/hsm/v2/State/Components";

async function createAccount(call: Call, id: string) {
  const res = await call("POST", "/auth/v1/service-accounts", { body: { id, roles: ["viewer"] } });
  expect(res.status, res.text).toBe(201);
  return res.json.spec.clientSecret as string;
}

/** What a replica needs to check a token: its jti, subject and issue time (milliseconds). */
function identityOf(token: string) {
  const p = decodeJwt(token);
  return { jti: String(p.jti), sub: String(p.sub), issuedAt: new Date(Number(p.iat_ms)) };
}

async function snapshotOf(call: Call): Promise<Snapshot> {
  const s = await call("GET", "/events/v1/snapshot");
  expect(s.status, s.text).toBe(200);
  const { kind: _k, apiVersion: _a, source: _s, ...rest } = s.json;
  return rest as Snapshot;
}

/** Applies the change feed after the replica's position, as an edge polling it does. */
async function follow(call: Call, replica: Replica): Promise<void> {
  for (;;) {
    const page = await call("GET", `/events/v1/changes?after=${replica.position()}&limit=100`);
    expect(page.status, page.text).toBe(200);
    if (page.json.items.length === 0) return;
    replica.applyEvents(page.json.items);
  }
}

for (const [name, start] of [
  ["node+pglite", nodePgliteTarget],
  ["node+postgres", nodePostgresTarget],
  ["workerd+postgres", workerTarget],
] as const) {
  describe.sequential(`account changes end its tokens on ${name}`, () => {
    let t: Target;
    let dir: string;
    let edge: Replica;
    /** Tokens that must fail from now on, and the one that must work. */
    const ended: string[] = [];
    let fresh: string;

    beforeAll(async () => {
      t = await start();
      dir = mkdtempSync(join(tmpdir(), "chamicore-auth-edge-"));
      edge = Replica.open(dir, { sqlite: openBetterSqlite });
      edge.applySnapshot(await snapshotOf(t.call));
    }, 120_000);
    afterAll(async () => {
      edge?.close();
      if (dir) rmSync(dir, { recursive: true, force: true });
      await t?.stop();
    });

    const get = (token: string) => t.call("GET", COMPONENTS, { token });
    async function expectEnded(token: string, why: string) {
      const res = await get(token);
      expect(res.status, res.text).toBe(401);
      expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      expect(res.json.detail).toBe(`token has been revoked: service account ${why}`);
      expect(res.headers.get("www-authenticate")).toContain('error="invalid_token"');
    }

    it("deleting an account ends its token on the next request", async () => {
      const secret = await createAccount(t.call, "victim-deleted");
      const token = await tokenFor(t.call, "victim-deleted", secret);
      expect((await get(token)).status).toBe(200);
      const del = await t.call("DELETE", "/auth/v1/service-accounts/victim-deleted");
      expect(del.status, del.text).toBe(204);
      await expectEnded(token, "'victim-deleted' was deleted");
      ended.push(token);
    });

    it("disabling an account ends its token; enabling it again does not bring it back", async () => {
      const secret = await createAccount(t.call, "victim-disabled");
      const token = await tokenFor(t.call, "victim-disabled", secret);
      // A change that ends nothing leaves the token working.
      const described = await t.call("PATCH", "/auth/v1/service-accounts/victim-disabled", {
        body: { description: "still trusted" },
      });
      expect(described.status, described.text).toBe(200);
      expect((await get(token)).status).toBe(200);

      const off = await t.call("PATCH", "/auth/v1/service-accounts/victim-disabled", {
        body: { enabled: false },
      });
      expect(off.status, off.text).toBe(200);
      await expectEnded(token, "'victim-disabled' was disabled");

      const on = await t.call("PATCH", "/auth/v1/service-accounts/victim-disabled", {
        body: { enabled: true },
      });
      expect(on.status, on.text).toBe(200);
      await expectEnded(token, "'victim-disabled' was disabled");
      expect((await get(await tokenFor(t.call, "victim-disabled", secret))).status).toBe(200);
      ended.push(token);
    });

    it("resetting a secret ends the old tokens, and a token from the new secret works at once", async () => {
      const secret = await createAccount(t.call, "victim-reset");
      const token = await tokenFor(t.call, "victim-reset", secret);
      const reset = await t.call("POST", "/auth/v1/service-accounts/victim-reset/secret", {
        headers: { "Content-Type": "application/json" },
      });
      expect(reset.status, reset.text).toBe(200);
      // Issued within the same second as the reset, mostly: only the millisecond claim tells it apart.
      fresh = await tokenFor(t.call, "victim-reset", reset.json.spec.clientSecret);
      expect((await get(fresh)).status).toBe(200);
      await expectEnded(token, "'victim-reset' was given a new secret");
      expect((await get(fresh)).status).toBe(200);
      ended.push(token);
    });

    it("lists the subject revocations, kept as long as any token can live", async () => {
      const res = await t.call("GET", "/auth/v1/revocations");
      expect(res.status, res.text).toBe(200);
      const specs = res.json.items;
      const deleted = specs.find((s: Record<string, string>) => s.subject === "victim-deleted");
      expect(deleted).toMatchObject({ reason: "service account 'victim-deleted' was deleted" });
      expect(deleted.jti).toMatch(/^sub:victim-deleted:\d+$/);
      const lifetime = Date.parse(deleted.expiresAt) - Date.parse(deleted.issuedBefore);
      expect(lifetime).toBe((86_400 + 30) * 1000);
      expect(specs.filter((s: Record<string, string>) => s.subject === "victim-disabled")).toHaveLength(1);
    });

    it("an edge following the feed, or starting from a snapshot, refuses the same tokens", async () => {
      expect(ended).toHaveLength(3);
      await follow(t.call, edge);
      const fromSnapshot = Replica.open(mkdtempSync(join(dir, "snap-")), { sqlite: openBetterSqlite });
      try {
        fromSnapshot.applySnapshot(await snapshotOf(t.call));
        for (const replica of [edge, fromSnapshot]) {
          const now = new Date();
          for (const token of ended) {
            const id = identityOf(token);
            expect(replica.isRevoked(id.jti, now, id), id.sub).toBe(true);
            // Without the subject and issue time, only a jti revocation would count.
            expect(replica.isRevoked(id.jti, now)).toBe(false);
          }
          const ok = identityOf(fresh);
          expect(replica.isRevoked(ok.jti, now, ok)).toBe(false);
        }
        expect(edge.dump().revocations).toEqual(fromSnapshot.dump().revocations);
      } finally {
        fromSnapshot.close();
      }
    });
  });
}
