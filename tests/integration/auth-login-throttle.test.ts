/**
 * Secret guessing at the token endpoint is throttled (issue 16), on the Node
 * server and on the Worker in workerd: twenty wrong secrets at once for one
 * client get 429 problem+json with Retry-After past the per-client budget;
 * the right secret is refused too until the window ends, then works; a
 * different client from another address is not affected; an address that
 * sprays many client ids is stopped by its own budget; successful logins
 * do not use the budget. The Node server's log names who failed from where
 * and never holds a secret that was sent. On workerd with the platform's
 * rate limiting binding, a client that the binding finds over its limit is
 * held back even when the isolate's own count would let it through.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "../../control/db/node";
import { startControl } from "../../control/node/serve";
import { randomSecret } from "../../shared/auth/crypto";
import { createLogger } from "../../shared/log";
import { createTestDatabase } from "../support/postgres";
import {
  type Answer,
  buildWorkerBundle,
  type Call,
  callVia,
  targetEnv,
  tokenFor,
  urlCall,
  workerTarget,
} from "../support/targets";

/** Long enough for the attempts of one test to land in one window on a loaded machine. */
const WINDOW = 10;
const PER_ADDRESS = 15;
const LIMITS = {
  CHAMICORE_LOGIN_MAX_FAILURES_PER_CLIENT: "10",
  CHAMICORE_LOGIN_MAX_FAILURES_PER_ADDRESS: String(PER_ADDRESS),
  CHAMICORE_LOGIN_WINDOW_SECONDS: String(WINDOW),
  // The Node server believes X-Forwarded-For from the test process; the Worker reads CF-Connecting-IP.
  CHAMICORE_TRUSTED_PROXIES: "127.0.0.1/32",
};

interface Setup {
  /** Calls with the admin token. */
  call: Call;
  /** Lines the server logged, when the runtime lets the test read them. */
  log?: string[];
  stop(): Promise<void>;
}

async function nodeSetup(): Promise<Setup> {
  const dir = mkdtempSync(join(tmpdir(), "chamicore-throttle-"));
  const env = targetEnv(LIMITS);
  const log: string[] = [];
  const logger = createLogger({ level: "debug", write: (line) => log.push(line) });
  const running = await startControl(
    { CHAMICORE_LISTEN: "127.0.0.1:0", CHAMICORE_DATA_DIR: dir, ...env },
    logger,
  );
  const raw = urlCall(running.url);
  const admin = await tokenFor(raw, env.CHAMICORE_BOOTSTRAP_CLIENT_ID, env.CHAMICORE_BOOTSTRAP_CLIENT_SECRET);
  return {
    call: (m, p, init = {}) => raw(m, p, { ...init, token: init.token === undefined ? admin : init.token }),
    log,
    async stop() {
      await running.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function workerSetup(): Promise<Setup> {
  const t = await workerTarget(LIMITS);
  return { call: t.call, stop: () => t.stop() };
}

/** A client-credentials request for `id` from `address`, by form body (client_secret_post). */
const login = (call: Call, id: string, secret: string, address: string) =>
  call("POST", "/auth/v1/token", {
    body: new URLSearchParams({
      grant_type: "client_credentials",
      client_id: id,
      client_secret: secret,
    }).toString(),
    headers: {
      "Content-Type": "application/x-www-form-urlencoded",
      "X-Forwarded-For": address,
      "CF-Connecting-IP": address,
    },
    token: null,
  });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function expectThrottled(a: Answer, window = WINDOW) {
  expect(a.status, a.text).toBe(429);
  expect(a.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  expect(a.json.type).toMatch(/\/too-many-requests$/);
  const retry = Number(a.headers.get("retry-after"));
  expect(Number.isInteger(retry)).toBe(true);
  expect(retry).toBeGreaterThanOrEqual(1);
  expect(retry).toBeLessThanOrEqual(window);
  return retry;
}

for (const [name, setup] of [
  ["node+pglite", nodeSetup],
  ["workerd+postgres", workerSetup],
] as const) {
  describe.sequential(`login throttle on ${name}`, () => {
    let s: Setup;
    const secrets = new Map<string, string>();
    /** Every secret the test sent, right or wrong, to look for in the log. */
    const sent: string[] = [];

    beforeAll(async () => {
      s = await setup();
      for (const id of ["guarded", "bystander", "busy"]) {
        const res = await s.call("POST", "/auth/v1/service-accounts", { body: { id, roles: ["viewer"] } });
        expect(res.status, res.text).toBe(201);
        secrets.set(id, res.json.spec.clientSecret);
        sent.push(res.json.spec.clientSecret);
      }
    }, 120_000);
    afterAll(async () => {
      await s?.stop();
    });

    it("answers 429 with Retry-After to twenty wrong secrets at once, and to the right one after them", async () => {
      const wrong = Array.from({ length: 20 }, () => randomSecret(24));
      sent.push(...wrong);
      const answers = await Promise.all(wrong.map((w) => login(s.call, "guarded", w, "198.51.100.7")));
      const statuses = answers.map((a) => a.status);
      expect(statuses.filter((x) => x === 401)).toHaveLength(10);
      expect(statuses.filter((x) => x === 429)).toHaveLength(10);
      for (const a of answers.filter((x) => x.status === 429)) expectThrottled(a);

      // Guessing right now gains nothing: the client is held back, even with its secret, from anywhere.
      expectThrottled(await login(s.call, "guarded", secrets.get("guarded")!, "198.51.100.7"));
      const elsewhere = await login(s.call, "guarded", secrets.get("guarded")!, "203.0.113.50");
      const retry = expectThrottled(elsewhere);

      // Another client from another address is not affected.
      const other = await login(s.call, "bystander", secrets.get("bystander")!, "203.0.113.9");
      expect(other.status, other.text).toBe(200);

      await sleep(retry * 1000 + 200);
      const after = await login(s.call, "guarded", secrets.get("guarded")!, "198.51.100.7");
      expect(after.status, after.text).toBe(200);
    }, 60_000);

    it("stops an address that sprays client ids, and no other address", async () => {
      const ids = Array.from({ length: PER_ADDRESS }, (_, i) => `spray-${i}`);
      const wrong = ids.map(() => randomSecret(24));
      sent.push(...wrong);
      const answers = await Promise.all(ids.map((id, i) => login(s.call, id, wrong[i]!, "192.0.2.66")));
      expect(answers.map((a) => a.status)).toEqual(ids.map(() => 401));
      expectThrottled(await login(s.call, "spray-new", randomSecret(24), "192.0.2.66"));
      expectThrottled(await login(s.call, "bystander", secrets.get("bystander")!, "192.0.2.66"));
      const other = await login(s.call, "bystander", secrets.get("bystander")!, "192.0.2.67");
      expect(other.status, other.text).toBe(200);
    }, 60_000);

    it("does not count successful logins", async () => {
      for (let i = 0; i < 15; i++) {
        const ok = await login(s.call, "busy", secrets.get("busy")!, "198.51.100.20");
        expect(ok.status, ok.text).toBe(200);
      }
      const bad = randomSecret(24);
      sent.push(bad);
      const wrong = await login(s.call, "busy", bad, "198.51.100.20");
      expect(wrong.status, wrong.text).toBe(401);
      expect(wrong.json.error).toBe("invalid_client");
    }, 60_000);

    it.runIf(name === "node+pglite")(
      "logs failed logins at warn with client and address, never a secret",
      () => {
        const lines = s.log!.map((l) => JSON.parse(l) as Record<string, unknown>);
        const failed = lines.filter((l) => l.msg === "login failed");
        expect(failed.length).toBeGreaterThanOrEqual(10 + PER_ADDRESS + 1);
        expect(failed[0]).toMatchObject({ level: "warn", clientId: "guarded", address: "198.51.100.7" });
        expect(lines.some((l) => l.msg === "login throttled" && l.level === "warn")).toBe(true);
        const text = s.log!.join("\n");
        for (const secret of sent) expect(text).not.toContain(secret);
      },
    );
  });
}

describe.sequential("login throttle on workerd with the rate limiting binding", () => {
  let mf: Miniflare;
  let drop: () => Promise<void>;
  let call: Call;
  const env = targetEnv({
    // The isolate's own count would allow far more: the binding is what stops the guessing here.
    CHAMICORE_LOGIN_MAX_FAILURES_PER_CLIENT: "1000",
    CHAMICORE_LOGIN_WINDOW_SECONDS: "60",
  });

  beforeAll(async () => {
    const script = buildWorkerBundle();
    const db = await createTestDatabase("worker_ratelimit");
    drop = db.drop;
    const node = await openDatabase({ databaseUrl: db.url, dataDir: "/nonexistent" });
    await node.migrate();
    await node.close();
    mf = new Miniflare({
      modules: true,
      scriptPath: script,
      modulesRoot: dirname(script),
      compatibilityDate: "2026-04-26",
      compatibilityFlags: ["nodejs_compat"],
      hyperdrives: { HYPERDRIVE: db.url },
      bindings: { CHAMICORE_LOG_LEVEL: "error", ...env },
      ratelimits: { LOGIN_CLIENT_LIMITER: { simple: { limit: 3, period: 60 } } },
    });
    await mf.ready;
    const raw = callVia(
      (url, init) => mf.dispatchFetch(url, init as never) as unknown as Promise<Response>,
      "http://control.test",
    );
    const admin = await tokenFor(
      raw,
      env.CHAMICORE_BOOTSTRAP_CLIENT_ID,
      env.CHAMICORE_BOOTSTRAP_CLIENT_SECRET,
    );
    call = (m, p, init = {}) => raw(m, p, { ...init, token: init.token === undefined ? admin : init.token });
  }, 120_000);
  afterAll(async () => {
    await mf?.dispose();
    await drop?.();
  });

  it("holds a client back once the binding finds it over its limit, even with its secret", async () => {
    const secrets: Record<string, string> = {};
    for (const id of ["shared-guarded", "shared-bystander"]) {
      const res = await call("POST", "/auth/v1/service-accounts", { body: { id, roles: ["viewer"] } });
      expect(res.status, res.text).toBe(201);
      secrets[id] = res.json.spec.clientSecret;
    }
    // Miniflare's binding counts in fixed windows aligned to the epoch (like the
    // platform's): start the attempts with most of a window ahead of them, so
    // a slow machine cannot split them across two windows and reset the count.
    const into = Date.now() % 60_000;
    if (into > 30_000) await sleep(60_000 - into + 100);
    // The binding allows three failures; the fourth is over its limit (and still a plain 401).
    for (let i = 0; i < 4; i++) {
      const wrong = await login(call, "shared-guarded", randomSecret(24), "198.51.100.30");
      expect(wrong.status, wrong.text).toBe(401);
    }
    expectThrottled(await login(call, "shared-guarded", secrets["shared-guarded"]!, "198.51.100.31"), 60);
    const other = await login(call, "shared-bystander", secrets["shared-bystander"]!, "198.51.100.30");
    expect(other.status, other.text).toBe(200);
  }, 120_000);
});
