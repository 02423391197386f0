/**
 * Several `chamicore serve` processes started at the same moment on one
 * fresh Postgres database (replicas coming up together): one migrates, the
 * others wait for it, and all of them serve. None dies on a half-made schema.
 */
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { MIGRATIONS_DIR } from "../../control/db/node";
import { generateMasterKey } from "../../shared/auth/crypto";
import { createTestDatabase, type TestDatabase } from "../support/postgres";
import { freePort, type Proc, serve } from "../support/process";

const procs: Proc[] = [];
const dbs: TestDatabase[] = [];
afterAll(async () => {
  for (const p of procs) {
    if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill("SIGKILL");
    await p.exited;
  }
  for (const db of dbs) await db.drop();
});

const journal = JSON.parse(readFileSync(join(MIGRATIONS_DIR, "meta/_journal.json"), "utf8")) as {
  entries: { tag: string }[];
};

async function appliedMigrations(url: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const { rows } = await c.query<{ n: string }>('select count(*) as n from drizzle."__drizzle_migrations"');
    return Number(rows[0]!.n);
  } finally {
    await c.end();
  }
}

/** Three `serve` processes spawned in the same tick; each then connects and migrates as fast as it can. */
async function startThree(env: Record<string, string>): Promise<(Proc & { url: string })[]> {
  const ports = [await freePort(), await freePort(), await freePort()];
  const started = await Promise.allSettled(
    ports.map((port) => serve({ ...env, CHAMICORE_LISTEN: `127.0.0.1:${port}` }, 90_000)),
  );
  const up = started.flatMap((s) => (s.status === "fulfilled" ? [s.value] : []));
  procs.push(...up);
  const failures = started.flatMap((s) => (s.status === "rejected" ? [String(s.reason)] : []));
  expect(failures, failures.join("\n\n")).toEqual([]);
  return up;
}

async function stopAll(servers: Proc[]) {
  for (const s of servers) {
    s.child.kill("SIGTERM");
    expect((await s.exited).code).toBe(0);
  }
}

describe("chamicore serve, three processes at once on one empty database", () => {
  it("all become ready, the migrations are applied once, and each answers the API", async () => {
    const db = await createTestDatabase("concurrent_serve");
    dbs.push(db);
    // Replicas share the master key and a fixed bootstrap account (docs/operations.md).
    const secret = randomBytes(24).toString("base64url");
    const env = {
      DATABASE_URL: db.url,
      CHAMICORE_MASTER_KEY: generateMasterKey(),
      CHAMICORE_BOOTSTRAP_CLIENT_ID: "ops",
      CHAMICORE_BOOTSTRAP_CLIENT_SECRET: secret,
    };
    const servers = await startThree(env);

    for (const s of servers) expect((await fetch(`${s.url}/readiness`)).status).toBe(200);
    expect(await appliedMigrations(db.url)).toBe(journal.entries.length);

    for (const s of servers) {
      const tok = await fetch(`${s.url}/auth/v1/token`, {
        method: "POST",
        headers: {
          "Content-Type": "application/x-www-form-urlencoded",
          Authorization: `Basic ${btoa(`ops:${secret}`)}`,
        },
        body: "grant_type=client_credentials",
      });
      expect(tok.status).toBe(200);
      const { access_token } = (await tok.json()) as { access_token: string };
      const list = await fetch(`${s.url}/hsm/v2/State/Components`, {
        headers: { Authorization: `Bearer ${access_token}` },
      });
      expect(list.status).toBe(200);
    }
    const waited = servers.filter((s) => s.output().includes("waiting for another process's migration"));
    // Informational: how many found the lock taken depends on how the starts interleaved.
    console.log(`${waited.length} of 3 processes waited for another's migration`);

    await stopAll(servers);
  }, 150_000);

  it("without a configured bootstrap account, exactly one of them creates the first administrator", async () => {
    const db = await createTestDatabase("concurrent_first_admin");
    dbs.push(db);
    const servers = await startThree({ DATABASE_URL: db.url, CHAMICORE_MASTER_KEY: generateMasterKey() });
    for (const s of servers) expect((await fetch(`${s.url}/readiness`)).status).toBe(200);
    expect(servers.filter((s) => /client secret: \S+/.test(s.output()))).toHaveLength(1);
    await stopAll(servers);
  }, 150_000);
});
