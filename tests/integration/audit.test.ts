/**
 * The audit trail as an auditor reads it, on the Node server and on the
 * Worker in workerd (through Hyperdrive and through Neon's driver), all on
 * Postgres: a node provisioned by one service account and changed and
 * decommissioned by another shows, step by step and in order, who did what
 * to which resource and how it ended; refusals (401, 403, 404, 422) and
 * token issuance and refusal are there too, with the client id tried. The
 * list filters and pages; only `admin:audit` reads it; GETs leave no
 * record; the retention prune (the Worker's cron) drops old records and
 * keeps the rest.
 *
 * Then, on Node with Postgres and a log captured at debug level: every
 * secret the test creates or types is absent from every column of the audit
 * table and from every log line; and a failed audit write leaves the answer
 * unchanged and logs a warning without values.
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningControl, startControl } from "../../control/node/serve";
import { generateMasterKey, randomSecret } from "../../shared/auth/crypto";
import { createLogger } from "../../shared/log";
import { createTestDatabase, type TestDatabase } from "../support/postgres";
import {
  type Answer,
  type Call,
  nodePostgresTarget,
  type Target,
  tokenFor,
  urlCall,
  workerNeonTarget,
  workerTarget,
} from "../support/targets";

const C = "/hsm/v2/State/Components";
const BP = "/boot/v1/bootparams";
const P = "/cloud-init/payloads";
const EVENTS = "/audit/v1/events";
const NODE = "x3000c0s5b0n0";

// biome-ignore lint/suspicious/noExplicitAny: audit records are inspected freely.
type Rec = any;

const form = (fields: Record<string, string>, auth: { id: string; secret: string }) => ({
  body: new URLSearchParams(fields).toString(),
  headers: {
    "Content-Type": "application/x-www-form-urlencoded",
    Authorization: `Basic ${btoa(`${auth.id}:${auth.secret}`)}`,
  },
  token: null,
});

function expectStatus(a: Answer, status: number): Answer {
  expect(a.status, a.text).toBe(status);
  return a;
}

async function createAccount(call: Call, id: string, roles: string[]) {
  const a = expectStatus(await call("POST", "/auth/v1/service-accounts", { body: { id, roles } }), 201);
  return { id, secret: a.json.spec.clientSecret as string };
}

/** Every record at or after `since`, oldest first, read through the API in pages of `limit`. */
async function recordsSince(call: Call, since: string, limit = 7): Promise<Rec[]> {
  const out: Rec[] = [];
  for (let offset = 0; ; offset += limit) {
    const q = new URLSearchParams({ since, sort: "time", limit: String(limit), offset: String(offset) });
    const page = expectStatus(await call("GET", `${EVENTS}?${q}`), 200).json;
    expect(page.kind).toBe("AuditEventList");
    out.push(...page.items.map((i: Rec) => i.spec));
    if (offset + limit >= page.metadata.total) {
      expect(out).toHaveLength(page.metadata.total);
      return out;
    }
  }
}

const step = (r: Rec) => ({
  subject: r.subject,
  method: r.method,
  route: r.route,
  resourceId: r.resourceId,
  status: r.status,
});

for (const [name, start] of [
  ["node+postgres", nodePostgresTarget],
  ["workerd+postgres", workerTarget],
  ["workerd+neon", workerNeonTarget],
] as const) {
  describe.sequential(`audit trail on ${name}`, () => {
    let t: Target;
    let provisioner: { id: string; secret: string };
    let decommissioner: { id: string; secret: string };
    let watcher: { id: string; secret: string };
    let since: string;
    let trail: Rec[];
    const requestIds: string[] = [];

    beforeAll(async () => {
      t = await start();
      provisioner = await createAccount(t.call, "provisioner", ["operator"]);
      decommissioner = await createAccount(t.call, "decommissioner", ["operator"]);
      watcher = await createAccount(t.call, "watcher", ["viewer"]);
    });
    afterAll(async () => {
      await t?.stop();
    });

    it("records a provision → change → decommission by two accounts, step by step, in order", async () => {
      // A second boundary: records of the same millisecond as `since` would still count.
      since = new Date(Date.now() - 1).toISOString();
      const tokenP = await tokenFor(t.call, provisioner.id, provisioner.secret);
      const tokenD = await tokenFor(t.call, decommissioner.id, decommissioner.secret);
      const as =
        (token: string) =>
        async (method: string, path: string, init: Parameters<Call>[2] = {}) => {
          const a = await t.call(method, path, { ...init, token });
          requestIds.push(a.headers.get("x-request-id") ?? "");
          return a;
        };
      const p = as(tokenP);
      const d = as(tokenD);

      // provision
      expectStatus(
        await p("POST", C, {
          body: {
            id: NODE,
            role: "Compute",
            nid: 42,
            interfaces: [
              { macAddress: "a4:bf:01:3a:00:42", ipAddresses: [{ ipAddress: "10.3.0.42", network: "mgmt" }] },
            ],
          },
        }),
        201,
      );
      const bp = expectStatus(
        await p("POST", BP, {
          body: { id: "bp-x3000", componentId: NODE, kernelUri: "http://img/vmlinuz", cmdline: "quiet" },
        }),
        201,
      );
      // A create without an id: the record names the generated one.
      const payload = expectStatus(
        await p("POST", P, { body: { componentId: NODE, userData: "#cloud-config\nhostname: cn42\n" } }),
        201,
      );
      const payloadId: string = payload.json.metadata.id;
      // refused: the body breaks a rule
      expectStatus(await p("POST", C, { body: { id: "not-an-xname!", state: "Wizard" } }), 422);

      // change
      expectStatus(await d("PATCH", `${C}/${NODE}`, { body: { state: "Off" } }), 200);
      expectStatus(
        await d("PUT", `${BP}/bp-x3000`, {
          body: { componentId: NODE, kernelUri: "http://img/vmlinuz-2", cmdline: "quiet" },
          headers: { "If-Match": bp.headers.get("etag")! },
        }),
        200,
      );

      // decommission
      expectStatus(await d("DELETE", `${P}/${payloadId}`), 204);
      expectStatus(await d("DELETE", `${BP}/bp-x3000`), 204);
      expectStatus(await d("DELETE", `${C}/${NODE}`), 204);

      trail = await recordsSince(t.call, since);
      const steps = trail.filter((r) => r.route !== "/auth/v1/token").map(step);
      expect(steps).toEqual([
        { subject: "provisioner", method: "POST", route: C, resourceId: NODE, status: 201 },
        { subject: "provisioner", method: "POST", route: BP, resourceId: "bp-x3000", status: 201 },
        { subject: "provisioner", method: "POST", route: P, resourceId: payloadId, status: 201 },
        { subject: "provisioner", method: "POST", route: C, resourceId: null, status: 422 },
        { subject: "decommissioner", method: "PATCH", route: `${C}/:id`, resourceId: NODE, status: 200 },
        { subject: "decommissioner", method: "PUT", route: `${BP}/:id`, resourceId: "bp-x3000", status: 200 },
        {
          subject: "decommissioner",
          method: "DELETE",
          route: `${P}/:id`,
          resourceId: payloadId,
          status: 204,
        },
        {
          subject: "decommissioner",
          method: "DELETE",
          route: `${BP}/:id`,
          resourceId: "bp-x3000",
          status: 204,
        },
        { subject: "decommissioner", method: "DELETE", route: `${C}/:id`, resourceId: NODE, status: 204 },
      ]);
      const work = trail.filter((r) => r.route !== "/auth/v1/token");
      // Each record carries the request id the caller saw, the caller's roles and a time.
      expect(work.map((r) => r.requestId)).toEqual(requestIds);
      for (const r of work) {
        expect(r.roles).toEqual(["operator"]);
        expect(r.action).toBeNull();
        expect(Date.parse(r.time)).toBeGreaterThanOrEqual(Date.parse(since));
        if (name === "node+postgres") expect(r.clientAddress).toBe("127.0.0.1");
      }
      // Newest first by default: the same records, reversed.
      const newest = expectStatus(await t.call("GET", `${EVENTS}?since=${since}&limit=100`), 200).json;
      expect(newest.items.map((i: Rec) => i.spec.id)).toEqual(trail.map((r) => r.id).reverse());
    });

    it("records token issuance and refusal with the client id tried, never the secret", async () => {
      const tokens = trail.filter((r) => r.route === "/auth/v1/token");
      expect(tokens.map((r) => [r.subject, r.status, r.action, r.roles])).toEqual([
        ["provisioner", 200, "token issued", ["operator"]],
        ["decommissioner", 200, "token issued", ["operator"]],
      ]);
      const from = new Date(Date.now() - 1).toISOString();
      const wrong = "wrong-secret-0123456789";
      expectStatus(
        await t.call(
          "POST",
          "/auth/v1/token",
          form({ grant_type: "client_credentials" }, { id: "provisioner", secret: wrong }),
        ),
        401,
      );
      expectStatus(
        await t.call(
          "POST",
          "/auth/v1/token",
          form({ grant_type: "client_credentials" }, { id: "nobody", secret: wrong }),
        ),
        401,
      );
      const refused = (await recordsSince(t.call, from)).filter((r) => r.route === "/auth/v1/token");
      expect(refused.map((r) => [r.subject, r.method, r.status, r.action, r.roles])).toEqual([
        ["provisioner", "POST", 401, "token refused: invalid_client", []],
        ["nobody", "POST", 401, "token refused: invalid_client", []],
      ]);
      expect(JSON.stringify(refused)).not.toContain(wrong);

      // A client id is kept as given, cut at 255 characters (never inside a surrogate pair).
      const long = `${"x".repeat(254)}\u{1F600}yyy`;
      const from2 = new Date(Date.now() - 1).toISOString();
      expectStatus(
        await t.call(
          "POST",
          "/auth/v1/token",
          form({ grant_type: "client_credentials" }, { id: encodeURIComponent(long), secret: wrong }),
        ),
        401,
      );
      const kept = (await recordsSince(t.call, from2)).filter((r) => r.route === "/auth/v1/token");
      expect(kept.map((r) => r.subject)).toEqual(["x".repeat(254)]);
    });

    it("records refusals by auth: 403 for a viewer (with its subject and roles), 401 without a token", async () => {
      const from = new Date(Date.now() - 1).toISOString();
      const viewerToken = await tokenFor(t.call, watcher.id, watcher.secret);
      expectStatus(await t.call("POST", C, { body: { id: "x3000c0s6b0n0" }, token: viewerToken }), 403);
      expectStatus(await t.call("DELETE", `${C}/${NODE}`, { token: null }), 401);
      // A viewer cannot read the trail either (admin:audit), and reading leaves no record.
      expectStatus(await t.call("GET", EVENTS, { token: viewerToken }), 403);
      expectStatus(await t.call("GET", `${C}/x3000c0s6b0n0`), 404);
      // A write to no route: recorded without its path (which the caller chose freely).
      expectStatus(await t.call("POST", "/hsm/v2/no/such/thing", { body: {} }), 404);
      // A path parameter Postgres could not store (NUL) is recorded with U+FFFD in its place.
      const nul = await t.call("DELETE", `${C}/bad%00id`);
      expect(nul.status).toBeGreaterThanOrEqual(400);
      expect(nul.status).toBeLessThan(500);
      const recs = (await recordsSince(t.call, from)).filter((r) => r.route !== "/auth/v1/token");
      expect(recs.map((r) => [r.subject, r.roles, r.method, r.route, r.resourceId, r.status])).toEqual([
        ["watcher", ["viewer"], "POST", C, null, 403],
        [null, [], "DELETE", `${C}/:id`, NODE, 401],
        [null, [], "POST", "unmatched", null, 404],
        ["test-admin", ["admin"], "DELETE", `${C}/:id`, "bad\uFFFDid", nul.status],
      ]);
    });

    it("filters by subject, resource, route, method, status and time; refuses bad filters", async () => {
      const ids = async (query: string) =>
        expectStatus(await t.call("GET", `${EVENTS}?${query}`), 200).json.items.map((i: Rec) => i.spec.id);
      const trailIds = (f: (r: Rec) => boolean) =>
        trail
          .filter(f)
          .map((r) => r.id)
          .reverse();
      expect(await ids(`subject=decommissioner&since=${since}`)).toEqual(
        trailIds((r) => r.subject === "decommissioner"),
      );
      const onNode = await ids(`resourceId=${NODE}`);
      expect(onNode.length).toBe(4); // create, patch, delete, and the 401 delete
      expect(await ids(`resource=${NODE}&subject=decommissioner`)).toEqual(
        trailIds((r) => r.resourceId === NODE && r.subject === "decommissioner"),
      );
      expect(await ids(`method=delete&route=${encodeURIComponent(`${BP}/:id`)}`)).toEqual(
        trailIds((r) => r.method === "DELETE" && r.route === `${BP}/:id`),
      );
      expect(await ids(`status=201,204&since=${since}&subject=provisioner,decommissioner`)).toEqual(
        trailIds((r) => r.status === 201 || r.status === 204),
      );
      expect(await ids(`until=${since}&subject=provisioner`)).toEqual([]);
      // An offset written with an unencoded '+' (read as a space) still counts.
      const later = new Date(Date.now() + 3_600_000).toISOString().replace("Z", "+00:00");
      expect(await ids(`since=${later}`)).toEqual([]);
      const page = expectStatus(
        await t.call("GET", `${EVENTS}?limit=2&offset=1&fields=subject,status`),
        200,
      ).json;
      expect(page.metadata).toMatchObject({ limit: 2, offset: 1 });
      expect(page.metadata.total).toBeGreaterThan(trail.length);
      expect(Object.keys(page.items[0].spec).sort()).toEqual(["status", "subject"]);

      const bad = expectStatus(
        await t.call("GET", `${EVENTS}?since=yesterday&status=ok&method=GET&body=1`),
        400,
      );
      expect(bad.json.errors.map((e: { field: string }) => e.field).sort()).toEqual([
        "body",
        "method",
        "since",
        "status",
      ]);
      expectStatus(await t.call("GET", `${EVENTS}?subject=%00`), 400);
    });

    if (name === "workerd+postgres")
      it("the cron prunes records older than CHAMICORE_AUDIT_RETENTION_DAYS (default 90) and keeps the rest", async () => {
        const db = new pg.Client({ connectionString: t.databaseUrl });
        await db.connect();
        try {
          await db.query(
            `insert into audit.events (time, subject, method, route, status)
             values (now() - interval '91 days', 'ancient', 'POST', '/hsm/v2/State/Components', 201),
                    (now() - interval '89 days', 'old-but-kept', 'POST', '/hsm/v2/State/Components', 201)`,
          );
          const before = Number((await db.query("select count(*) from audit.events")).rows[0].count);
          await t.scheduled!();
          // The cron's work runs in waitUntil: look until it is done.
          const kept = "select subject from audit.events where subject in ('ancient', 'old-but-kept')";
          let left = await db.query(kept);
          for (let i = 0; i < 100 && left.rows.length > 1; i++) {
            await new Promise((r) => setTimeout(r, 100));
            left = await db.query(kept);
          }
          expect(left.rows.map((r) => r.subject)).toEqual(["old-but-kept"]);
          expect(Number((await db.query("select count(*) from audit.events")).rows[0].count)).toBe(
            before - 1,
          );
        } finally {
          await db.end();
        }
      });
  });
}

/**
 * Every secret this test creates or types, looked for in every column of
 * every audit record (as text) and in every line the server logged (at
 * debug level): none may be there. The records themselves are there (the
 * search runs over a trail that saw each step).
 */
describe.sequential("no secret reaches the audit trail or the log (node+postgres)", () => {
  const lines: string[] = [];
  let db: TestDatabase;
  let running: RunningControl;
  let call: Call;
  const marker = (what: string) => `SECRET-${what}-${randomSecret(12)}`;
  const bootstrapSecret = marker("bootstrap");
  const masterKey = generateMasterKey();
  const secrets: Record<string, string> = { bootstrapSecret, masterKey };

  beforeAll(async () => {
    db = await createTestDatabase("audit_secrets");
    running = await startControl(
      {
        CHAMICORE_LISTEN: "127.0.0.1:0",
        DATABASE_URL: db.url,
        CHAMICORE_DATA_DIR: "/nonexistent",
        CHAMICORE_MASTER_KEY: masterKey,
        CHAMICORE_BOOTSTRAP_CLIENT_ID: "root-admin",
        CHAMICORE_BOOTSTRAP_CLIENT_SECRET: bootstrapSecret,
      },
      createLogger({ level: "debug", write: (line) => lines.push(line) }),
    );
    call = urlCall(running.url);
  });
  afterAll(async () => {
    await running?.close();
    await db?.drop();
  });

  it("finds none of them, in a trail that recorded every step", async () => {
    // The bootstrap secret in the body (client_secret_post) rather than in Basic.
    const adminTokenAnswer = expectStatus(
      await call("POST", "/auth/v1/token", {
        body: new URLSearchParams({
          grant_type: "client_credentials",
          client_id: "root-admin",
          client_secret: bootstrapSecret,
        }).toString(),
        headers: { "Content-Type": "application/x-www-form-urlencoded" },
      }),
      200,
    );
    const admin = adminTokenAnswer.json.access_token as string;
    secrets.adminToken = admin;
    const as =
      (token: string | null) =>
      (method: string, path: string, init: Parameters<Call>[2] = {}) =>
        call(method, path, { ...init, token });
    const a = as(admin);

    // a service account's secret, then a new one
    const sa = expectStatus(
      await a("POST", "/auth/v1/service-accounts", { body: { id: "robot", roles: ["operator"] } }),
      201,
    );
    secrets.accountSecret = sa.json.spec.clientSecret;
    const reset = expectStatus(await a("POST", "/auth/v1/service-accounts/robot/secret"), 200);
    secrets.resetSecret = reset.json.spec.clientSecret;
    expect(secrets.resetSecret).not.toBe(secrets.accountSecret);
    const robot = await tokenFor(call, "robot", secrets.resetSecret!);
    secrets.robotToken = robot;
    // a wrong secret typed for it, and one for an unknown client
    secrets.typedWrong = marker("typed");
    for (const id of ["robot", "ghost"])
      expectStatus(
        await call("POST", "/auth/v1/token", {
          body: "grant_type=client_credentials",
          headers: {
            "Content-Type": "application/x-www-form-urlencoded",
            Authorization: `Basic ${btoa(`${id}:${secrets.typedWrong}`)}`,
          },
        }),
        401,
      );

    // a device credential's password, created then replaced
    secrets.bmcPassword = marker("bmc-password");
    const cred = expectStatus(
      await a("POST", "/auth/v1/credentials", {
        body: {
          id: "bmc-east",
          name: "east BMCs",
          type: "redfish",
          username: "root",
          secret: secrets.bmcPassword,
        },
      }),
      201,
    );
    secrets.bmcPassword2 = marker("bmc-password-2");
    expectStatus(
      await a("PUT", "/auth/v1/credentials/bmc-east", {
        body: { name: "east BMCs", type: "redfish", username: "root", secret: secrets.bmcPassword2 },
        headers: { "If-Match": cred.headers.get("etag")! },
      }),
      200,
    );
    // A refused create still carries the secret in its body.
    secrets.refusedPassword = marker("refused-password");
    expectStatus(
      await a("POST", "/auth/v1/credentials", {
        body: { id: "bmc-bad", name: "x", type: "telnet", username: "root", secret: secrets.refusedPassword },
      }),
      422,
    );

    // cloud-init user-data holding a secret, created, patched, and refused once
    secrets.userData = marker("user-data");
    expectStatus(await as(robot)("POST", C, { body: { id: NODE, role: "Compute" } }), 201);
    const payload = expectStatus(
      await as(robot)("POST", P, {
        body: { id: "n42", componentId: NODE, userData: `#cloud-config\npassword: ${secrets.userData}\n` },
      }),
      201,
    );
    secrets.userData2 = marker("user-data-2");
    expectStatus(
      await as(robot)("PATCH", `${P}/n42`, {
        body: { userData: `#cloud-config\npassword: ${secrets.userData2}\n` },
        headers: { "If-Match": payload.headers.get("etag")! },
      }),
      200,
    );

    // secrets in a query string and in a made-up bearer token, both refused
    secrets.inQuery = marker("query");
    expectStatus(await a("POST", `${C}?apikey=${secrets.inQuery}`, { body: { id: "x3000c0s7b0n0" } }), 201);
    secrets.bogusBearer = marker("bearer");
    expectStatus(await as(secrets.bogusBearer)("DELETE", `${C}/${NODE}`), 401);

    const audit = new pg.Client({ connectionString: db.url });
    await audit.connect();
    let rows: string[];
    let steps: string[];
    try {
      rows = (await audit.query("select e::text as row from audit.events e order by id")).rows.map(
        (r) => r.row,
      );
      steps = (
        await audit.query(
          `select concat_ws(' ', method, route, resource_id, status) as step from audit.events
            where route <> '/auth/v1/token' order by id`,
        )
      ).rows.map((r) => r.step);
    } finally {
      await audit.end();
    }
    // The trail saw every step (the refused credential as a 422 without an id: ids come from paths and answers).
    const all = rows.join("\n");
    expect(steps).toEqual([
      "POST /auth/v1/service-accounts robot 201",
      "POST /auth/v1/service-accounts/:id/secret robot 200",
      "POST /auth/v1/credentials bmc-east 201",
      "PUT /auth/v1/credentials/:id bmc-east 200",
      "POST /auth/v1/credentials 422",
      `POST ${C} ${NODE} 201`,
      `POST ${P} n42 201`,
      `PATCH ${P}/:id n42 200`,
      `POST ${C} x3000c0s7b0n0 201`,
      `DELETE ${C}/:id ${NODE} 401`,
    ]);
    for (const seen of ["root-admin", "robot", "ghost", "token refused: invalid_client"])
      expect(all).toContain(seen);
    expect(lines.length).toBeGreaterThan(rows.length);

    const log = lines.join("\n");
    for (const [what, secret] of Object.entries(secrets)) {
      expect(secret.length, what).toBeGreaterThanOrEqual(12);
      expect(all.includes(secret), `${what} in the audit table`).toBe(false);
      expect(log.includes(secret), `${what} in the log`).toBe(false);
    }
  });

  it("a failed audit write leaves the answer as it was and logs a warning without values", async () => {
    const admin = await tokenFor(call, "root-admin", bootstrapSecret);
    const sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
    const before = lines.length;
    try {
      await sql.query("alter table audit.events rename to events_away");
      const a = await call("POST", C, { body: { id: "x3000c0s9b0n0", role: "Compute" }, token: admin });
      expectStatus(a, 201);
      expect(a.json.metadata.id).toBe("x3000c0s9b0n0");
    } finally {
      await sql.query("alter table audit.events_away rename to events");
      await sql.end();
    }
    const warnings = lines
      .slice(before)
      .map((l) => JSON.parse(l))
      .filter((l) => l.msg === "audit record not written");
    expect(warnings).toEqual([
      expect.objectContaining({ level: "warn", method: "POST", route: C, status: 201, code: "42P01" }),
    ]);
    expect(JSON.stringify(warnings)).not.toContain("x3000c0s9b0n0");
    // The next request is recorded again.
    expectStatus(await call("DELETE", `${C}/x3000c0s9b0n0`, { token: admin }), 204);
    const last = expectStatus(await call("GET", `${EVENTS}?limit=1`, { token: admin }), 200).json.items[0]
      .spec;
    expect(last).toMatchObject({ method: "DELETE", resourceId: "x3000c0s9b0n0", subject: "root-admin" });
  });
});
