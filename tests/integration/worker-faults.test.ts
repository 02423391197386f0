/**
 * The Worker under database faults, on both of its drivers: pg through a
 * Hyperdrive binding, and Neon's serverless driver through a WebSocket-to-TCP
 * proxy (as hosted Neon fronts its Postgres). While clients write and read,
 * the database's connections are cut (backends terminated, the proxy's
 * sockets reset) and the Postgres server is stopped and restarted. Requests
 * caught in flight answer 503 problem+json or succeed; none answers 500 or
 * hangs; the next ones succeed without restarting workerd; and every write
 * that was acknowledged can be read back. Then the hops themselves fail: the
 * WebSocket proxy goes away, and a database that never answers.
 */
import { createServer } from "node:net";
import pg from "pg";
import { afterAll, describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import { PG_ADMIN_URL } from "../support/postgres";
import { type PrivatePostgres, startPrivatePostgres } from "../support/private-postgres";
import {
  type Answer,
  buildWorkerBundle,
  type Call,
  startMiniflare,
  type Target,
  targetEnv,
  type WorkerDriver,
  workerNeonTarget,
  workerTarget,
} from "../support/targets";
import { startWsProxy, type WsProxy } from "../support/ws-proxy";

const C = "/hsm/v2/State/Components";
/** Longer than any healthy answer on a loaded machine: past it, a request counts as hung. */
const HUNG_MS = 20_000;

const cleanup: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const f of cleanup.reverse()) await f().catch(() => {});
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface LoadReport {
  requests: number;
  byStatus: Record<number, number>;
  /** Answers that are neither a success nor a 503 problem+json, with what they said. */
  bad: string[];
  hung: number;
  /** Ids whose create was acknowledged with 201. */
  acked: string[];
  /** Requests in flight at each fault, in order. */
  inFlightAtFaults: number[];
}

/**
 * `clients` loops, each writing a new component every third request and
 * otherwise reading back one of its own acknowledged writes or a list page.
 * `faults` run one after another while the loops go on.
 */
async function underLoad(
  call: Call,
  tag: number,
  clients: number,
  faults: (() => Promise<unknown>)[],
  gapMs: number,
): Promise<LoadReport> {
  const report: LoadReport = { requests: 0, byStatus: {}, bad: [], hung: 0, acked: [], inFlightAtFaults: [] };
  let running = true;
  let inFlight = 0;
  const timed = async (what: string, p: Promise<Answer>, ok: number) => {
    inFlight++;
    report.requests++;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const hung = new Promise<"hung">((r) => {
      timer = setTimeout(() => r("hung"), HUNG_MS);
    });
    try {
      const a = await Promise.race([p, hung]);
      if (a === "hung") {
        report.hung++;
        return undefined;
      }
      report.byStatus[a.status] = (report.byStatus[a.status] ?? 0) + 1;
      const problem503 =
        a.status === 503 &&
        /^application\/problem\+json/.test(a.headers.get("content-type") ?? "") &&
        a.json?.status === 503;
      if (a.status !== ok && !problem503) report.bad.push(`${what}: ${a.status} ${a.text.slice(0, 300)}`);
      return a;
    } finally {
      clearTimeout(timer);
      inFlight--;
    }
  };
  const loop = async (k: number) => {
    const mine: string[] = [];
    for (let i = 0; running; i++) {
      if (i % 3 === 0) {
        const id = `x${tag}c${k}s${i}b0`;
        const a = await timed(`POST ${id}`, call("POST", C, { body: { id, state: "Ready" } }), 201);
        if (a?.status === 201) {
          mine.push(id);
          report.acked.push(id);
        }
      } else if (i % 3 === 1 && mine.length > 0) {
        const id = mine[mine.length - 1]!;
        await timed(`GET ${id}`, call("GET", `${C}/${id}`), 200);
      } else {
        await timed("GET list", call("GET", `${C}?limit=20`), 200);
      }
    }
  };
  const loops = Array.from({ length: clients }, (_, k) => loop(k));
  await sleep(gapMs);
  for (const fault of faults) {
    report.inFlightAtFaults.push(inFlight);
    await fault();
    await sleep(gapMs);
  }
  running = false;
  await Promise.all(loops);
  return report;
}

/** Closes every session on `database` but our own, as `pg_terminate_backend` does to a lost connection. */
async function terminateBackends(adminUrl: string, database: string): Promise<number> {
  const admin = new pg.Client({ connectionString: adminUrl });
  await admin.connect();
  try {
    const r = await admin.query(
      "select count(pg_terminate_backend(pid))::int as n from pg_stat_activity where datname = $1 and pid <> pg_backend_pid()",
      [database],
    );
    return r.rows[0].n;
  } finally {
    await admin.end();
  }
}

/** After the faults: fresh requests and the cron succeed at once, and every acknowledged write reads back. */
async function expectRecovered(t: Target, report: LoadReport, tag: number) {
  for (let i = 0; i < 3; i++) {
    const id = `x${tag}c99s${i}b0`;
    const created = await t.call("POST", C, { body: { id, state: "Ready" } });
    expect(created.status, created.text).toBe(201);
    expect((await t.call("GET", `${C}/${id}`)).status).toBe(200);
  }
  expect((await t.call("GET", "/readiness")).status).toBe(200);
  // The cron trigger opens its own connection the same way.
  expect(await t.scheduled!()).toBe("ok");
  const lost: string[] = [];
  for (const id of report.acked) if ((await t.call("GET", `${C}/${id}`)).status !== 200) lost.push(id);
  expect(lost, "acknowledged writes that cannot be read back").toEqual([]);
}

function expectOnly503OrSuccess(report: LoadReport) {
  expect(report.bad, "answers other than success or 503 problem+json").toEqual([]);
  expect(report.hung, "requests that never answered").toBe(0);
  for (const n of report.inFlightAtFaults) expect(n, "requests in flight at a fault").toBeGreaterThan(0);
  expect(report.acked.length).toBeGreaterThan(0);
}

const summary = (label: string, r: LoadReport) =>
  `${label}: ${r.requests} requests, in flight at faults ${JSON.stringify(r.inFlightAtFaults)}, statuses ${JSON.stringify(r.byStatus)}, ${r.acked.length} writes acknowledged, lost 0`;

const DRIVERS: WorkerDriver[] = ["hyperdrive", "neon"];

describe.each(DRIVERS)("workerd+%s under database faults", (driver) => {
  it("answers 503 or succeeds while connections are cut, then serves on, losing nothing", async () => {
    const t = await workerTarget({}, { driver, relay: true });
    cleanup.push(() => t.stop());
    const database = new URL(t.databaseUrl!).pathname.slice(1);
    const cut = async () => {
      await terminateBackends(PG_ADMIN_URL, database);
      // And the network between: the WebSocket proxy (Neon) or the relay behind Hyperdrive.
      t.hop!.cut();
    };
    const report = await underLoad(t.call, 9100, 6, [cut, cut, cut], 400);
    console.info(summary(`workerd+${driver} connection cut`, report));
    expectOnly503OrSuccess(report);
    await expectRecovered(t, report, 9100);
  }, 90_000);

  it("answers 503 while Postgres is down, readiness too, and serves again once it is back", async () => {
    const server: PrivatePostgres = await startPrivatePostgres(`worker-${driver}`);
    cleanup.push(() => server.close());
    // Miniflare's Hyperdrive wants a password in the URL; the cluster trusts loopback and ignores it.
    const url = new URL(server.url);
    url.password = "unused";
    const t = await workerTarget({}, { driver, databaseUrl: url.toString(), relay: true });
    cleanup.push(() => t.stop());
    expect((await t.call("POST", C, { body: { id: "x9200c0s0b0", state: "Ready" } })).status).toBe(201);

    await server.stop();
    for (const [method, path, body] of [
      ["GET", `${C}/x9200c0s0b0`],
      ["GET", `${C}?limit=5`],
      ["POST", C, { id: "x9200c0s1b0" }],
      ["GET", "/readiness"],
    ] as const) {
      const a = await t.call(method, path, { body });
      expect(a.status, `${method} ${path} with Postgres down: ${a.text}`).toBe(503);
      if (path !== "/readiness") expect(a.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    }
    await server.start();
    expect((await t.call("GET", "/readiness")).status).toBe(200);
    expect((await t.call("GET", `${C}/x9200c0s0b0`)).status).toBe(200);

    // A restart under load: in flight requests fail cleanly, later ones succeed.
    const report = await underLoad(t.call, 9300, 6, [() => server.restart()], 400);
    console.info(summary(`workerd+${driver} Postgres restart`, report));
    expectOnly503OrSuccess(report);
    await expectRecovered(t, report, 9300);
  }, 120_000);
});

describe("workerd+neon without its WebSocket proxy", () => {
  it("answers 503 while the proxy is down and serves again once it is back", async () => {
    const t = await workerNeonTarget();
    cleanup.push(() => t.stop());
    expect((await t.call("GET", `${C}?limit=1`)).status).toBe(200);
    const proxy = t.hop as WsProxy;
    const port = Number(new URL(proxy.url).port);
    await proxy.close();
    // The driver's WebSocket fails to open: it rejects with an ErrorEvent, not an Error.
    for (const path of [`${C}?limit=1`, "/readiness"]) {
      const a = await t.call("GET", path);
      expect(a.status, `${path}: ${a.text}`).toBe(503);
      expect(a.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      expect(a.headers.get("retry-after")).toBeTruthy();
    }
    const back = await startWsProxy(port);
    cleanup.push(() => back.close());
    expect((await t.call("GET", `${C}?limit=1`)).status).toBe(200);
  }, 60_000);

  it("refuses a proxy URL that is not ws:// or wss://, naming the variable", async () => {
    const db = "postgres://postgres@127.0.0.1:5432/none";
    const mf = await startMiniflare(buildWorkerBundle(), db, targetEnv(), {
      neonWsProxy: "http://127.0.0.1:1/v1",
    });
    cleanup.push(() => mf.dispose());
    const res = (await mf.dispatchFetch("http://control.test/health")) as unknown as Response;
    expect(res.status).toBe(503);
    expect(((await res.json()) as { detail: string }).detail).toMatch(
      /CHAMICORE_NEON_WS_PROXY: must be a ws:\/\/ or wss:\/\/ URL/,
    );
  });
});

describe("a database that accepts the connection and never answers", () => {
  it("gets 503 after the Worker's connect timeout on both drivers, not a hung request", async () => {
    // A black hole on each path: a WebSocket proxy and a TCP endpoint that accept and stay silent.
    const wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    await new Promise((r) => wss.once("listening", r));
    const tcp = createServer(() => {});
    await new Promise<void>((r) => tcp.listen(0, "127.0.0.1", () => r()));
    cleanup.push(async () => {
      for (const ws of wss.clients) ws.terminate();
      await new Promise((r) => wss.close(r));
      tcp.close();
    });
    const wsPort = (wss.address() as { port: number }).port;
    const tcpPort = (tcp.address() as { port: number }).port;
    const script = buildWorkerBundle();
    const [neon, hyperdrive] = await Promise.all([
      startMiniflare(script, "postgres://postgres@127.0.0.1:5432/none", targetEnv(), {
        neonWsProxy: `ws://127.0.0.1:${wsPort}`,
      }),
      startMiniflare(script, `postgres://postgres:unused@127.0.0.1:${tcpPort}/none`, targetEnv()),
    ]);
    cleanup.push(
      () => neon.dispose(),
      () => hyperdrive.dispose(),
    );
    const answers = await Promise.all(
      [neon, hyperdrive].map(async (mf) => {
        const t0 = Date.now();
        const res = (await mf.dispatchFetch(`http://control.test${C}?limit=1`)) as unknown as Response;
        return { status: res.status, ms: Date.now() - t0, type: res.headers.get("content-type") };
      }),
    );
    for (const a of answers) {
      expect(a.status).toBe(503);
      expect(a.type).toMatch(/^application\/problem\+json/);
      expect(a.ms).toBeLessThan(HUNG_MS);
    }
  }, 60_000);
});
