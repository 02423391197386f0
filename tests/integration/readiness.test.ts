/**
 * /readiness says 503, with the reason, while the database cannot serve this
 * build: a Worker pointed at a database nobody has migrated yet, and a Node
 * server whose database disappears under it. /health stays 200 meanwhile.
 */
import { afterAll, describe, expect, it } from "vitest";
import { openDatabase } from "../../control/db/node";
import { startControl } from "../../control/node/serve";
import { createLogger } from "../../shared/log";
import { createTestDatabase, type TestDatabase } from "../support/postgres";
import { buildWorkerBundle, startMiniflare, targetEnv, tokenFor } from "../support/targets";

const cleanup: [string, () => Promise<unknown>][] = [];
/** What the Node server logged at warn and above: a stop step that stalls says which. */
const warnings: string[] = [];
const CLEANUP_STEP_MS = 60_000;

afterAll(async () => {
  for (const [name, f] of cleanup.reverse()) {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const stalled = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new Error(
              `cleanup "${name}" still running after ${CLEANUP_STEP_MS} ms; server warnings: ${warnings.join(" | ") || "none"}`,
            ),
          ),
        CLEANUP_STEP_MS,
      );
    });
    try {
      await Promise.race([f(), stalled]);
    } finally {
      clearTimeout(timer);
    }
  }
});

const readiness = async (res: Response) => ({
  status: res.status,
  body: (await res.json()) as { detail: string },
});

describe("readiness", () => {
  it("is 503 in workerd until `chamicore migrate` has run, then 200", async () => {
    const db: TestDatabase = await createTestDatabase("ready");
    cleanup.push(["drop the Worker's database", () => db.drop()]);
    const mf = await startMiniflare(buildWorkerBundle(), db.url, targetEnv());
    cleanup.push(["dispose of workerd", () => mf.dispose()]);

    const before = await readiness(
      (await mf.dispatchFetch("http://control.test/readiness")) as unknown as Response,
    );
    expect(before.status).toBe(503);
    expect(before.body.detail).toContain("chamicore migrate");
    expect((await mf.dispatchFetch("http://control.test/health")).status).toBe(200);

    const node = await openDatabase({ databaseUrl: db.url, dataDir: "/nonexistent" });
    await node.migrate();
    await node.close();
    const after = await readiness(
      (await mf.dispatchFetch("http://control.test/readiness")) as unknown as Response,
    );
    expect(after.status).toBe(200);
  });

  it("turns 503 on Node when the database goes away", async () => {
    const db = await createTestDatabase("gone");
    let dropped = false;
    cleanup.push(["drop the Node server's database", () => (dropped ? Promise.resolve() : db.drop())]);
    const env = targetEnv();
    const running = await startControl(
      { CHAMICORE_LISTEN: "127.0.0.1:0", DATABASE_URL: db.url, CHAMICORE_DATA_DIR: "/nonexistent", ...env },
      createLogger({ level: "warn", write: (line) => warnings.push(line) }),
    );
    cleanup.push(["stop the Node server", () => running.close().catch(() => {})]);
    expect((await fetch(`${running.url}/readiness`)).status).toBe(200);
    const call = async (
      method: string,
      path: string,
      init: { body?: unknown; headers?: Record<string, string> } = {},
    ) => {
      const res = await fetch(running.url + path, {
        method,
        headers: init.headers,
        body: init.body as string,
      });
      const text = await res.text();
      return { status: res.status, headers: res.headers, text, json: text ? JSON.parse(text) : undefined };
    };
    const token = await tokenFor(
      call,
      env.CHAMICORE_BOOTSTRAP_CLIENT_ID,
      env.CHAMICORE_BOOTSTRAP_CLIENT_SECRET,
    );

    await db.drop();
    dropped = true;
    const gone = await readiness(await fetch(`${running.url}/readiness`));
    expect(gone.status).toBe(503);
    expect(gone.body.detail).toMatch(/unreachable/);
    expect((await fetch(`${running.url}/health`)).status).toBe(200);
    // A data request fails as a problem, not as a hang or a bare 500 page.
    const list = await fetch(`${running.url}/hsm/v2/State/Components`, {
      headers: { Authorization: `Bearer ${token}` },
    });
    expect(list.status).toBe(500);
    expect(list.headers.get("content-type")).toMatch(/problem\+json/);
  });
});
