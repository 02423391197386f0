/**
 * `chamicore serve` on Postgres while the database misbehaves, as a user
 * would run it: a real process, a Postgres cluster of its own (so that it may
 * be restarted without disturbing the machine's shared server) and the
 * machine's NATS with a stream of its own. Eight clients write, read and
 * import while server sessions are terminated at chosen moments (idle,
 * mid-reads, mid-writes, inside a transaction, the relay's and the
 * background agents' connections) and while Postgres restarts.
 *
 * After every fault: the process is still up; each request in flight got
 * its normal answer or 503 problem+json with Retry-After (never a 500, never
 * a dropped connection); the next requests succeed. At the end every
 * acknowledged write reads back and its event is in the stream. Also here:
 * a 500 from the database never puts a statement's parameters in the log.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { jetstream, jetstreamManager } from "@nats-io/jetstream";
import { connect } from "@nats-io/transport-node";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateMasterKey } from "../../shared/auth/crypto";
import { deleteStream, eventually, SHARED_NATS_URL, uniqueStream } from "../support/nats";
import { createTestDatabase } from "../support/postgres";
import { type PrivatePostgres, startPrivatePostgres } from "../support/private-postgres";
import { freePort, type Proc, serve } from "../support/process";

const DB = "chamicore";
const CLIENT_ID = "ops";
const CLIENT_SECRET = "fault-suite-secret-0123456789";
const CLIENTS = 8;

let cluster: PrivatePostgres;
let admin: pg.Client;
let srv: Proc & { url: string };
let token = "";
const dataDir = mkdtempSync(join(tmpdir(), "chamicore-dbfaults-"));
const { stream, prefix } = uniqueStream("dbfaults");

/** Every id whose creation was acknowledged (2xx), with the fault it was written under. */
const acknowledged = new Map<string, string>();
let phase = "setup";
/** Per fault: requests in flight when it struck, how they ended, acknowledged writes lost. */
const report: Record<
  string,
  {
    sessionsCut: number;
    inFlight: number;
    inFlightOk: number;
    inFlight503: number;
    requests: number;
    requests503: number;
    lost: number;
  }
> = {};

beforeAll(async () => {
  cluster = await startPrivatePostgres("dbfaults");
  admin = new pg.Client({ connectionString: cluster.url });
  // The suite's own sessions must never be mistaken for the server's.
  admin.on("error", () => {});
  await admin.connect();
  await admin.query(`CREATE DATABASE ${DB}`);
  const url = new URL(cluster.url);
  url.pathname = `/${DB}`;
  srv = await serve({
    DATABASE_URL: url.toString(),
    CHAMICORE_DATA_DIR: dataDir,
    CHAMICORE_MASTER_KEY: generateMasterKey(),
    CHAMICORE_LISTEN: `127.0.0.1:${await freePort()}`,
    CHAMICORE_BOOTSTRAP_CLIENT_ID: CLIENT_ID,
    CHAMICORE_BOOTSTRAP_CLIENT_SECRET: CLIENT_SECRET,
    NATS_URL: SHARED_NATS_URL,
    CHAMICORE_NATS_STREAM: stream,
    CHAMICORE_NATS_SUBJECT_PREFIX: prefix,
  });
  token = await adminToken(srv.url);
}, 90_000);

async function adminToken(url: string): Promise<string> {
  const res = await fetch(`${url}/auth/v1/token`, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-www-form-urlencoded",
      Authorization: `Basic ${btoa(`${CLIENT_ID}:${CLIENT_SECRET}`)}`,
    },
    body: "grant_type=client_credentials",
  });
  expect(res.status).toBe(200);
  return ((await res.json()) as { access_token: string }).access_token;
}

afterAll(async () => {
  if (srv && srv.child.exitCode === null) {
    srv.child.kill("SIGTERM");
    await srv.exited;
  }
  await admin?.end().catch(() => {});
  await cluster?.close();
  await deleteStream(SHARED_NATS_URL, stream);
  rmSync(dataDir, { recursive: true, force: true });
  if (Object.keys(report).length) console.table(report);
}, 60_000);

// ---------- requests ----------

interface Answer {
  status: number;
  contentType: string;
  retryAfter: string | null;
  // biome-ignore lint/suspicious/noExplicitAny: answers are inspected freely.
  body: any;
  /** The connection dropped or hung: the one thing a client must never see. */
  dropped?: string;
}

async function call(method: string, path: string, body?: unknown): Promise<Answer> {
  try {
    const res = await fetch(srv.url + path, {
      method,
      headers: {
        Authorization: `Bearer ${token}`,
        ...(body === undefined ? {} : { "Content-Type": "application/json" }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(30_000),
    });
    const text = await res.text();
    return {
      status: res.status,
      contentType: res.headers.get("content-type") ?? "",
      retryAfter: res.headers.get("retry-after"),
      body: text ? JSON.parse(text) : undefined,
    };
  } catch (e) {
    return { status: 0, contentType: "", retryAfter: null, body: undefined, dropped: (e as Error).message };
  }
}

let serial = 0;
/** A fresh, valid xname: cabinets from x3000 up, eight nodes per slot. */
function nextId(): string {
  const i = serial++;
  return `x${3000 + Math.floor(i / 512)}c0s${Math.floor(i / 8) % 64}b0n${i % 8}`;
}

/** Whether an answer is one a client may get while the database fails: its normal one, or 503 to retry. */
function acceptable(a: Answer): boolean {
  if (a.dropped) return false;
  if (a.status >= 200 && a.status < 300) return true;
  return (
    a.status === 503 &&
    a.contentType.startsWith("application/problem+json") &&
    a.body?.status === 503 &&
    Number(a.retryAfter) > 0
  );
}

type Mode = "reads" | "mixed" | "imports";

/** A request of the traffic: what it was and how it ended. */
interface Sent {
  kind: "read" | "write" | "import";
  done: boolean;
  answer?: Answer;
}

/** Eight clients sending requests back to back until stopped; remembers what is in flight. */
class Traffic {
  readonly inFlight = new Set<Sent>();
  readonly sent: Sent[] = [];
  private stopped = false;
  private readonly clients: Promise<void>[];

  constructor(
    mode: Mode,
    private readonly importSize = 200,
  ) {
    this.clients = Array.from({ length: CLIENTS }, (_, c) => this.client(mode, c));
  }

  private async client(mode: Mode, c: number) {
    for (let n = 0; !this.stopped; n++) {
      const kind: Sent["kind"] =
        mode === "imports" && c === 0
          ? "import"
          : mode === "reads"
            ? "read"
            : (n + c) % 3 === 0
              ? "write"
              : "read";
      const s: Sent = { kind, done: false };
      this.inFlight.add(s);
      this.sent.push(s);
      s.answer = await this.send(kind, n);
      s.done = true;
      this.inFlight.delete(s);
      // A client told to retry waits a little (not the whole Retry-After: the suite is short).
      if (s.answer.status === 503) await sleep(50);
    }
  }

  private async send(kind: Sent["kind"], n: number): Promise<Answer> {
    if (kind === "write") {
      const id = nextId();
      const a = await call("POST", "/hsm/v2/State/Components", { id, role: "Compute" });
      if (a.status === 201) acknowledged.set(id, phase);
      return a;
    }
    if (kind === "import") {
      const components = Array.from({ length: this.importSize }, () => ({ id: nextId(), role: "Compute" }));
      const a = await call("POST", "/hsm/v2/import", { components });
      if (a.status === 201) for (const id of a.body.ids as string[]) acknowledged.set(id, phase);
      return a;
    }
    const known = [...acknowledged.keys()];
    return n % 2 === 0 && known.length > 0
      ? call("GET", `/hsm/v2/State/Components/${known[n % known.length]}`)
      : call("GET", "/hsm/v2/State/Components?limit=20");
  }

  async stop(): Promise<Sent[]> {
    this.stopped = true;
    await Promise.all(this.clients);
    return this.sent;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

// ---------- faults ----------

/** Terminates the server's sessions (all, or those `where` picks); returns how many. */
async function terminate(where = "true"): Promise<number> {
  const r = await admin.query(
    `SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity
      WHERE datname = $1 AND pid <> pg_backend_pid() AND (${where})`,
    [DB],
  );
  return r.rows[0].n;
}

/** Polls until one of the server's sessions matches `where`; false if none did in time. */
async function waitForSession(where: string, ms = 10_000): Promise<boolean> {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const r = await admin.query(
      `SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() AND (${where}) LIMIT 1`,
      [DB],
    );
    if (r.rowCount) return true;
    await sleep(2);
  }
  return false;
}

/**
 * Ends the sessions matching `where` as soon as there are some: a pooled
 * session changes hands between two looks, so look and cut until one is cut.
 */
async function cutFirst(where: string, strike: () => void): Promise<number> {
  for (let attempt = 0; attempt < 200; attempt++) {
    if (!(await waitForSession(where))) break;
    strike();
    const n = await terminate(where);
    if (n > 0) return n;
  }
  return 0;
}

/** The server keeps answering: a few requests in a row, each 2xx. */
async function nextRequestsSucceed() {
  for (let i = 0; i < 3; i++) {
    const id = nextId();
    const w = await call("POST", "/hsm/v2/State/Components", { id, role: "Compute" });
    expect(w.status, JSON.stringify(w)).toBe(201);
    acknowledged.set(id, phase);
    expect((await call("GET", `/hsm/v2/State/Components/${id}`)).status).toBe(200);
  }
}

/**
 * Runs traffic of `mode`; after `lead` ms runs `fault`, which calls
 * `strike()` at the moment it hits (the requests in flight then are
 * counted) and returns how many server sessions it ended; lets the traffic
 * run on for `tail` ms, then checks every answer and the next requests.
 */
async function underTraffic(
  name: string,
  mode: Mode,
  fault: (strike: () => void) => Promise<number>,
  opts: { lead?: number; tail?: number; importSize?: number } = {},
) {
  phase = name;
  const traffic = new Traffic(mode, opts.importSize);
  await sleep(opts.lead ?? 400);
  let struck: Sent[] = [];
  const sessionsCut = await fault(() => {
    struck = [...traffic.inFlight];
  });
  await sleep(opts.tail ?? 800);
  const sent = await traffic.stop();
  expect(srv.child.exitCode, srv.output().slice(-3000)).toBeNull();
  const bad = sent.filter((s) => !acceptable(s.answer!));
  expect(
    bad.map((s) => ({ kind: s.kind, ...s.answer, body: JSON.stringify(s.answer?.body)?.slice(0, 300) })),
  ).toEqual([]);
  report[name] = {
    sessionsCut,
    inFlight: struck.length,
    inFlightOk: struck.filter((s) => s.answer!.status < 300).length,
    inFlight503: struck.filter((s) => s.answer!.status === 503).length,
    requests: sent.length,
    requests503: sent.filter((s) => s.answer!.status === 503).length,
    lost: 0,
  };
  await nextRequestsSucceed();
  return report[name]!;
}

/** A session of the server that is inside a transaction that has written. */
const IN_WRITING_TRANSACTION = "backend_xid IS NOT NULL";

describe("chamicore serve on Postgres when connections are cut", () => {
  it("survives a session terminated inside a transaction, answering 503 to retry (regression: the process exited 1)", async () => {
    phase = "transaction regression";
    // An import is one transaction; cut its session once it has written, until one is caught mid-way.
    let caught: Answer | undefined;
    for (let attempt = 0; attempt < 5 && !caught; attempt++) {
      const components = Array.from({ length: 1500 }, () => ({ id: nextId(), role: "Compute" }));
      const pending = call("POST", "/hsm/v2/import", { components });
      const inside = await waitForSession(IN_WRITING_TRANSACTION, 20_000);
      const n = inside ? await terminate(IN_WRITING_TRANSACTION) : 0;
      const a = await pending;
      if (a.status === 201) for (const id of a.body.ids as string[]) acknowledged.set(id, phase);
      if (n > 0 && a.status !== 201) caught = a;
    }
    expect(caught, "no import was caught inside its transaction").toBeDefined();
    await sleep(300);
    expect(srv.child.exitCode, srv.output().slice(-3000)).toBeNull();
    expect(caught!.status).toBe(503);
    expect(caught!.contentType).toMatch(/^application\/problem\+json/);
    expect(Number(caught!.retryAfter)).toBeGreaterThan(0);
    await nextRequestsSucceed();
  }, 120_000);

  it("keeps serving through cuts at every moment and a Postgres restart, losing nothing acknowledged", async () => {
    // Idle: every pooled session is cut while nothing runs; the traffic comes after.
    await sleep(300);
    const idleCut = await terminate();
    // The server hears of it at once (each session is told before it ends) and drops them from its pool.
    await sleep(500);
    const idle = await underTraffic("idle", "mixed", async () => idleCut);
    expect(idle.sessionsCut).toBeGreaterThan(0);
    expect(idle.requests503).toBe(0);

    const cutAll = (where?: string) => async (strike: () => void) => {
      strike();
      return terminate(where);
    };
    expect((await underTraffic("mid-reads", "reads", cutAll())).inFlight).toBeGreaterThan(0);
    expect((await underTraffic("mid-writes", "mixed", cutAll())).inFlight).toBeGreaterThan(0);
    const tx = await underTraffic(
      "inside a transaction",
      "imports",
      async (strike) => {
        expect(await waitForSession(IN_WRITING_TRANSACTION)).toBe(true);
        return cutAll()(strike);
      },
      { lead: 100, importSize: 400 },
    );
    expect(tx.sessionsCut).toBeGreaterThan(0);
    // The relay's session is the one whose last statement read or marked the outbox.
    const relays = `query ILIKE '%"sent_at"%'`;
    const relay = await underTraffic("relay's connection", "mixed", (strike) => cutFirst(relays, strike));
    expect(relay.sessionsCut).toBeGreaterThan(0);
    // The work dispatcher, the power agent and the discovery agent and scheduler poll their queues.
    const agents = `query ILIKE '%"power".%' OR query ILIKE '%"discovery".%'`;
    const agent = await underTraffic("dispatcher's and agents' connections", "mixed", (strike) =>
      cutFirst(agents, strike),
    );
    expect(agent.sessionsCut).toBeGreaterThan(0);
    // A restart: down for a second (every request then waits or gets 503), then back.
    const restart = await underTraffic(
      "Postgres restart",
      "mixed",
      async (strike) => {
        const sessions = await admin.query(
          "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = $1",
          [DB],
        );
        strike();
        await cluster.stop();
        // While it is down, readiness says so, in the driver's words (no statement).
        const ready = await fetch(`${srv.url}/readiness`);
        const detail = ((await ready.json()) as { detail: string }).detail;
        expect([ready.status, detail]).toEqual([503, expect.stringMatching(/^database unreachable: /)]);
        expect(detail).not.toContain("Failed query");
        await sleep(1000);
        await cluster.start();
        admin = new pg.Client({ connectionString: cluster.url });
        admin.on("error", () => {});
        await admin.connect();
        return sessions.rows[0].n;
      },
      { tail: 1500 },
    );
    expect(restart.inFlight).toBeGreaterThan(0);
    expect(restart.requests503).toBeGreaterThan(0);

    // Nothing acknowledged is lost: every id reads back...
    phase = "read-back";
    const ids = [...acknowledged.keys()];
    const missing: string[] = [];
    for (let i = 0; i < ids.length; i += CLIENTS) {
      const batch = ids.slice(i, i + CLIENTS);
      const answers = await Promise.all(batch.map((id) => call("GET", `/hsm/v2/State/Components/${id}`)));
      for (const [j, a] of answers.entries()) if (a.status !== 200) missing.push(batch[j]!);
    }
    // ...and the relay resumed: each one's event reached the stream.
    const inStream = await eventually(
      "every acknowledged write's event in the stream",
      () => streamSubjects(),
      (s) => ids.every((id) => s.has(id)),
      30_000,
    ).catch(() => streamSubjects());
    const unpublished = ids.filter((id) => !inStream.has(id));
    for (const id of new Set([...missing, ...unpublished])) {
      const r = report[acknowledged.get(id)!];
      if (r) r.lost++;
    }
    expect(missing).toEqual([]);
    expect(unpublished).toEqual([]);
    console.log(`acknowledged writes: ${ids.length}; per fault:`, JSON.stringify(report));
  }, 240_000);
});

/** The `subject` (resource id) of every event the stream holds. */
async function streamSubjects(): Promise<Set<string>> {
  const nc = await connect({ servers: SHARED_NATS_URL });
  try {
    const jsm = await jetstreamManager(nc);
    const info = await jsm.streams.info(stream).catch(() => undefined);
    const out = new Set<string>();
    if (!info || info.state.messages === 0) return out;
    const consumer = await jetstream(nc).consumers.get(stream);
    const messages = await consumer.consume();
    for await (const m of messages) {
      out.add((m.json() as { subject: string }).subject);
      if (m.info.streamSequence >= info.state.last_seq) break;
    }
    return out;
  } finally {
    await nc.close();
  }
}

describe("the log of a failed statement", () => {
  it("names the error, the statement and the table, never the parameters (regression: user-data in the log)", async () => {
    const db = await createTestDatabase("dbfaults_log");
    const own = await serve({
      DATABASE_URL: db.url,
      CHAMICORE_DATA_DIR: dataDir,
      CHAMICORE_MASTER_KEY: generateMasterKey(),
      CHAMICORE_LISTEN: `127.0.0.1:${await freePort()}`,
      CHAMICORE_BOOTSTRAP_CLIENT_ID: CLIENT_ID,
      CHAMICORE_BOOTSTRAP_CLIENT_SECRET: CLIENT_SECRET,
    });
    try {
      const marker = `fault-suite-marker-${Math.random().toString(16).slice(2)}`;
      // A rule the service does not know about makes this insert fail as a real 500 would.
      const c = new pg.Client({ connectionString: db.url });
      await c.connect();
      try {
        await c.query(
          `ALTER TABLE cloudinit.payloads ADD CONSTRAINT fault_suite_check CHECK (user_data NOT LIKE '%fault-suite-marker-%') NOT VALID`,
        );
      } finally {
        await c.end();
      }
      const ownToken = await adminToken(own.url);
      const res = await fetch(`${own.url}/cloud-init/payloads`, {
        method: "POST",
        headers: { Authorization: `Bearer ${ownToken}`, "Content-Type": "application/json" },
        body: JSON.stringify({
          role: "Compute",
          userData: `#cloud-config\nwrite_files:\n  - path: /etc/token\n    content: ${marker}\n`,
        }),
      });
      expect(res.status).toBe(500);
      expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      await sleep(200);
      const log = own.output();
      expect(log).not.toContain(marker);
      expect(log).not.toContain("params:");
      // What the log does say: the SQLSTATE (check violation) and the statement's verb and table.
      expect(log).toContain('"unhandled error"');
      expect(log).toContain('"code":"23514"');
      expect(log).toContain('"statement":"insert cloudinit.payloads"');
    } finally {
      own.child.kill("SIGTERM");
      await own.exited;
      await db.drop();
    }
  }, 60_000);
});
