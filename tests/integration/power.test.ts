/**
 * Power control end to end: the control plane (Node, on embedded PGlite and
 * on Postgres) with its in-process agent, against emulated BMCs. BMC
 * endpoints, credentials and the inventory are made through the API; then
 * on and off (the emulator's power changes, the inventory follows, per-node
 * results), a bulk transition over 20 BMCs within the limits the emulators
 * measure, abort mid-flight, dry runs that touch no BMC, a stuck BMC failing
 * at a short deadline, nodes without an endpoint, the bulk cap, unknown
 * names and scopes. On Postgres the outbox is read, and a second process
 * started on the same database fails the tasks a crashed one left behind.
 */
import { sql } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NodeDatabase, openDatabase } from "../../control/db/node";
import { startControl } from "../../control/node/serve";
import { PgOutbox } from "../../control/stores/outbox";
import { silentLogger } from "../../shared/log";
import { type BmcFleet, currentSeq, maxConcurrency, startBmc, startBmcs } from "../support/bmc";
import { deleteStream, SHARED_NATS_URL, uniqueStream } from "../support/nats";
import {
  type Answer,
  nodePgliteTarget,
  nodePostgresTarget,
  type Target,
  tokenFor,
  urlCall,
} from "../support/targets";

const T = "/power/v1/transitions";
const B = "/power/v1/bmcs";
const CONCURRENCY = 6;
const FLEET = 20;
const POWER_ENV = {
  CHAMICORE_POWER_CONCURRENCY: String(CONCURRENCY),
  CHAMICORE_POWER_POLL_SECONDS: "0.02",
  CHAMICORE_POWER_MAX_NODES: String(FLEET),
};

const bmcId = (i: number) => `x1000c0s${i}b0`;
const nodeId = (i: number) => `${bmcId(i)}n0`;
/** A node whose NodeBMC has no endpoint. */
const ORPHAN = "x1000c1s0b0n0";

const expectStatus = (a: Answer, status: number) => {
  expect(a.status, a.text.slice(0, 800)).toBe(status);
  if (status >= 400) expect(a.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  return a;
};

function suite(name: string, start: () => Promise<Target>) {
  describe.sequential(`power on ${name}`, () => {
    let t: Target;
    let fleet: BmcFleet;
    let db: NodeDatabase | undefined;

    beforeAll(async () => {
      [t, fleet] = await Promise.all([
        start(),
        startBmcs(FLEET, { initialPowerState: "Off", latencyMs: 3, powerDelayMs: 20 }),
      ]);
      if (t.databaseUrl) db = await openDatabase({ databaseUrl: t.databaseUrl, dataDir: "/nonexistent" });
    });
    afterAll(async () => {
      await db?.close();
      await t?.stop();
      await fleet?.close();
    });

    /** Polls the transition until it is completed or aborted. */
    async function settled(id: string, timeoutMs = 20_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const a = expectStatus(await t.call("GET", `${T}/${id}`), 200);
        if (a.json.spec.state === "completed" || a.json.spec.state === "aborted") return a.json.spec;
        if (Date.now() > until) throw new Error(`transition ${id} still ${a.json.spec.state}: ${a.text}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    }
    async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 10_000) {
      const until = Date.now() + timeoutMs;
      while (!(await check())) {
        if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 20));
      }
    }
    const transition = (body: unknown) => t.call("POST", T, { body });
    const stateOf = async (id: string) =>
      (await t.call("GET", `/hsm/v2/State/Components/${id}`)).json.spec.state;

    it("has a credential, an inventory and BMC endpoints, made through the API", async () => {
      expectStatus(
        await t.call("POST", "/auth/v1/credentials", {
          body: { id: "bmc-cred", name: "BMCs", type: "redfish", username: "admin", secret: "password" },
        }),
        201,
      );
      const components = [
        ...Array.from({ length: FLEET }, (_, i) => [
          { id: bmcId(i), type: "NodeBMC", state: "Ready" },
          { id: nodeId(i), type: "Node", parentId: bmcId(i), state: "Off", role: "Compute" },
        ]).flat(),
        { id: "x1000c1s0b0", type: "NodeBMC" },
        { id: ORPHAN, type: "Node", parentId: "x1000c1s0b0" },
      ];
      expectStatus(await t.call("POST", "/hsm/v2/import", { body: { components } }), 201);
      for (let i = 0; i < FLEET; i++) {
        const a = expectStatus(
          await t.call("POST", B, {
            body: { id: bmcId(i), address: fleet.urls[i], credentialId: "bmc-cred" },
          }),
          201,
        );
        if (i === 0) {
          expect(a.headers.get("location")).toBe(`${B}/${bmcId(0)}`);
          expect(a.json).toMatchObject({
            kind: "BmcEndpoint",
            apiVersion: "power/v1",
            metadata: { id: bmcId(0) },
            spec: {
              id: bmcId(0),
              address: fleet.urls[0],
              credentialId: "bmc-cred",
              auth: "basic",
              insecure: false,
              site: null,
            },
          });
        }
      }
      expectStatus(
        await t.call("POST", "/hsm/v2/groups", {
          body: { name: "rack0", members: Array.from({ length: FLEET }, (_, i) => nodeId(i)) },
        }),
        201,
      );
    });

    it("refuses BMC endpoints that cannot be right, and manages them with etags", async () => {
      const dup = expectStatus(
        await t.call("POST", B, { body: { id: bmcId(0), address: "10.0.0.1", credentialId: "bmc-cred" } }),
        409,
      );
      expect(dup.json.errors).toEqual([{ field: "id", message: "already exists" }]);
      const fields = async (body: unknown) =>
        expectStatus(await t.call("POST", B, { body }), 422).json.errors.map(
          (e: { field: string }) => e.field,
        );
      expect(await fields({ id: nodeId(0), address: "10.0.0.1", credentialId: "bmc-cred" })).toEqual(["id"]);
      expect(await fields({ id: "x9999c0s0b0", address: "10.0.0.1", credentialId: "bmc-cred" })).toEqual([
        "id",
      ]);
      expect(await fields({ id: "x1000c1s0b0", address: "10.0.0.1", credentialId: "nope" })).toEqual([
        "credentialId",
      ]);
      expect(await fields({ id: "x1000c1s0b0", address: "ftp://x", credentialId: "bmc-cred" })).toEqual([
        "address",
      ]);
      expectStatus(
        await t.call("POST", B, {
          body: { id: "x1000c1s0b0", address: "a", credentialId: "bmc-cred", port: 1 },
        }),
        400,
      );

      // A spare endpoint, changed and removed; the orphan node stays without one.
      const made = expectStatus(
        await t.call("POST", B, {
          body: { id: "x1000c1s0b0", address: "bmc.example:8443", credentialId: "bmc-cred", site: "east" },
        }),
        201,
      );
      expect(made.json.spec.address).toBe("https://bmc.example:8443");
      const got = expectStatus(await t.call("GET", `${B}/x1000c1s0b0`), 200);
      expect(got.headers.get("etag")).toBe(`"${got.json.metadata.etag}"`);
      const patched = expectStatus(
        await t.call("PATCH", `${B}/x1000c1s0b0`, { body: { site: null, insecure: true } }),
        200,
      );
      expect(patched.json.spec).toMatchObject({ site: null, insecure: true });
      expectStatus(
        await t.call("PUT", `${B}/x1000c1s0b0`, { body: { address: "10.0.0.9", credentialId: "bmc-cred" } }),
        428,
      );
      expectStatus(
        await t.call("PUT", `${B}/x1000c1s0b0`, {
          body: { address: "10.0.0.9", credentialId: "bmc-cred" },
          headers: { "If-Match": `"${got.json.metadata.etag}"` },
        }),
        412,
      );
      const replaced = expectStatus(
        await t.call("PUT", `${B}/x1000c1s0b0`, {
          body: { address: "10.0.0.9", credentialId: "bmc-cred" },
          headers: { "If-Match": `"${patched.json.metadata.etag}"` },
        }),
        200,
      );
      expect(replaced.json.spec).toEqual({
        id: "x1000c1s0b0",
        address: "https://10.0.0.9",
        credentialId: "bmc-cred",
        auth: "basic",
        insecure: false,
        site: null,
      });
      const list = expectStatus(await t.call("GET", `${B}?site=east`), 200);
      expect(list.json.metadata.total).toBe(0);
      expect(expectStatus(await t.call("GET", `${B}?limit=1`), 200).json.metadata.total).toBe(FLEET + 1);
      expectStatus(await t.call("DELETE", `${B}/x1000c1s0b0`), 204);
      expectStatus(await t.call("GET", `${B}/x1000c1s0b0`), 404);
    });

    it("powers a node on: the BMC, the task, the transition and the inventory agree", async () => {
      const a = expectStatus(
        await transition({ operation: "on", location: [{ xname: nodeId(0) }], taskDeadlineMinutes: 0.5 }),
        201,
      );
      expect(a.headers.get("location")).toBe(`${T}/${a.json.metadata.id}`);
      expect(a.json.spec).toMatchObject({
        operation: "on",
        taskDeadlineMinutes: 0.5,
        dryRun: false,
        requestedBy: "test-admin",
        taskCounts: { total: 1 },
      });
      expect(a.json.spec.tasks).toMatchObject([{ xname: nodeId(0), bmcId: bmcId(0), site: null }]);
      const done = await settled(a.json.metadata.id);
      expect(done.state).toBe("completed");
      expect(done.completedAt).not.toBeNull();
      expect(done.taskCounts).toMatchObject({ total: 1, succeeded: 1 });
      expect(done.tasks[0]).toMatchObject({ state: "succeeded", message: "On: On", powerState: "On" });
      expect(fleet.bmcs[0]!.powerState()).toBe("On");
      expect(fleet.bmcs[0]!.resets.map((r) => r.resetType)).toEqual(["On"]);
      expect(await stateOf(nodeId(0))).toBe("On");

      const status = expectStatus(await t.call("GET", `/power/v1/power-status?xname=${nodeId(0)}`), 200);
      expect(status.json).toMatchObject({ kind: "PowerStatusList", metadata: { total: 1 } });
      expect(status.json.items[0]).toMatchObject({
        xname: nodeId(0),
        powerState: "on",
        source: "task",
        inventoryState: "On",
        bmcId: bmcId(0),
        managementState: "available",
        lastTask: { transitionId: a.json.metadata.id, operation: "on", state: "succeeded" },
      });
    });

    it("powers it off with the convenience action", async () => {
      const a = expectStatus(
        await t.call("POST", "/power/v1/actions/off", { body: { nodes: [nodeId(0)] } }),
        201,
      );
      expect(a.headers.get("location")).toBe(`${T}/${a.json.metadata.id}`);
      expect(a.json.spec.operation).toBe("off");
      const done = await settled(a.json.metadata.id);
      expect(done.tasks[0]).toMatchObject({
        state: "succeeded",
        message: "ForceOff: Off",
        powerState: "Off",
      });
      expect(fleet.bmcs[0]!.powerState()).toBe("Off");
      expect(await stateOf(nodeId(0))).toBe("Off");
      const off = expectStatus(await t.call("GET", "/power/v1/power-status?powerState=off&limit=100"), 200);
      expect(off.json.items.map((s: { xname: string }) => s.xname)).toContain(nodeId(0));
    });

    it("runs a bulk transition over 20 BMCs: one request per BMC, the global limit across all", async () => {
      const from = currentSeq();
      const a = expectStatus(
        await transition({ operation: "on", group: "rack0", taskDeadlineMinutes: 0.5 }),
        201,
      );
      // The group's members, in the group's order.
      const group = expectStatus(await t.call("GET", "/hsm/v2/groups/rack0"), 200).json.spec.members;
      expect(a.json.spec.tasks.map((k: { xname: string }) => k.xname)).toEqual(group);
      const done = await settled(a.json.metadata.id);
      expect(done.state).toBe("completed");
      expect(done.taskCounts).toMatchObject({ total: FLEET, succeeded: FLEET });
      const mine = (b: (typeof fleet.bmcs)[number]) => ({
        ...b,
        requests: b.requests.filter((r) => r.seq > from),
      });
      for (const b of fleet.bmcs) {
        expect(b.powerState()).toBe("On");
        expect(maxConcurrency([mine(b) as never])).toBe(1);
      }
      const overall = maxConcurrency(fleet.bmcs.map((b) => mine(b) as never));
      expect(overall).toBeLessThanOrEqual(CONCURRENCY);
      expect(overall).toBeGreaterThan(1);
      for (let i = 0; i < FLEET; i++) expect(await stateOf(nodeId(i))).toBe("On");
      const listed = expectStatus(await t.call("GET", `${T}?state=completed&operation=on`), 200);
      expect(listed.json.items[0].spec).toMatchObject({
        id: a.json.metadata.id,
        taskCounts: { succeeded: FLEET },
      });
      expect(listed.json.items[0].spec.tasks).toBeUndefined();
    });

    it("refuses more nodes than CHAMICORE_POWER_MAX_NODES, and names unknown nodes", async () => {
      const over = expectStatus(
        await transition({ operation: "off", group: "rack0", location: [{ xname: ORPHAN }] }),
        422,
      );
      expect(over.json.detail).toContain(`at most ${FLEET}`);
      const unknown = expectStatus(
        await transition({ operation: "off", location: [{ xname: nodeId(0) }, { xname: "x9999c0s0b0n0" }] }),
        422,
      );
      expect(unknown.json.detail).toBe("This node is not in the inventory: x9999c0s0b0n0");
      expect(unknown.json.errors).toEqual([{ field: "location", message: "'x9999c0s0b0n0' does not exist" }]);
      expectStatus(await transition({ operation: "off", group: "no-such-group" }), 422);
      expectStatus(await transition({ operation: "off" }), 422);
      expectStatus(await transition({ operation: "explode", location: [{ xname: nodeId(0) }] }), 422);
      expectStatus(await transition({ operation: "off", location: [{ xname: nodeId(0) }], extra: 1 }), 400);
      expectStatus(
        await transition({ operation: "off", location: [{ xname: nodeId(0) }], taskDeadlineMinutes: 0 }),
        422,
      );
      expectStatus(await t.call("POST", "/power/v1/actions/reboot", { body: {} }), 422);
    });

    it("fails a node without a BMC endpoint by itself, with what to do", async () => {
      const a = expectStatus(
        await transition({ operation: "off", location: [{ xname: ORPHAN }, { xname: nodeId(1) }] }),
        201,
      );
      expect(a.json.spec.tasks[0]).toMatchObject({
        xname: ORPHAN,
        state: "failed",
        bmcId: "x1000c1s0b0",
        message: "no BMC endpoint for x1000c1s0b0 (create one with POST /power/v1/bmcs)",
      });
      const done = await settled(a.json.metadata.id);
      expect(done.taskCounts).toMatchObject({ total: 2, failed: 1, succeeded: 1 });
      expect(fleet.bmcs[1]!.powerState()).toBe("Off");
      const status = expectStatus(await t.call("GET", `/power/v1/power-status?xname=${ORPHAN}`), 200);
      expect(status.json.items[0]).toMatchObject({ powerState: "undefined", managementState: "unavailable" });
    });

    it("powers the i-th system of a BMC with several for node n<i>", async () => {
      const blade = await startBmc({ mockup: "public-bladed", latencyMs: 3, powerDelayMs: 20 });
      try {
        const components = [
          { id: "x1000c2s0b0", type: "NodeBMC" },
          ...[0, 2, 7].map((n) => ({ id: `x1000c2s0b0n${n}`, type: "Node", parentId: "x1000c2s0b0" })),
        ];
        expectStatus(await t.call("POST", "/hsm/v2/import", { body: { components } }), 201);
        expectStatus(
          await t.call("POST", B, {
            body: { id: "x1000c2s0b0", address: blade.url, credentialId: "bmc-cred" },
          }),
          201,
        );
        const a = expectStatus(
          await transition({
            operation: "off",
            location: [0, 2, 7].map((n) => ({ xname: `x1000c2s0b0n${n}` })),
          }),
          201,
        );
        const done = await settled(a.json.metadata.id);
        expect(done.tasks.map((k: { state: string }) => k.state)).toEqual([
          "succeeded",
          "succeeded",
          "failed",
        ]);
        expect(done.tasks[2].message).toBe(
          "BMC x1000c2s0b0 has 4 system(s); x1000c2s0b0n7 would be system 7 (counting from 0)",
        );
        expect(blade.systems.map((sys) => blade.powerState(sys))).toEqual(["Off", "On", "Off", "On"]);
        expect(blade.maxConcurrent).toBe(1);
      } finally {
        await t.call("DELETE", `${B}/x1000c2s0b0`);
        await blade.close();
      }
    });

    it("dry-runs without touching any BMC", async () => {
      const before = fleet.bmcs.map((b) => b.requests.length);
      const a = expectStatus(
        await t.call("POST", "/power/v1/actions/reset", { body: { group: "rack0", dryRun: true } }),
        201,
      );
      expect(a.json.spec).toMatchObject({ state: "completed", dryRun: true, operation: "hard-restart" });
      expect(a.json.spec.taskCounts).toMatchObject({ total: FLEET, planned: FLEET });
      expect(a.json.spec.tasks.find((k: { xname: string }) => k.xname === nodeId(2)).message).toBe(
        `would run hard-restart through BMC ${bmcId(2)} at ${fleet.urls[2]}`,
      );
      await new Promise((r) => setTimeout(r, 400));
      expect(fleet.bmcs.map((b) => b.requests.length)).toEqual(before);
      expect((await settled(a.json.metadata.id)).taskCounts.planned).toBe(FLEET);
    });

    it("fails a task whose BMC accepts the Reset and does nothing, at a short deadline", async () => {
      const stuck = fleet.bmcs[3]!;
      stuck.setFaults({ stuck: true });
      try {
        const started = Date.now();
        const a = expectStatus(
          await transition({ operation: "off", location: [{ xname: nodeId(3) }], taskDeadlineMinutes: 0.01 }),
          201,
        );
        const done = await settled(a.json.metadata.id);
        expect(done.state).toBe("completed");
        expect(done.tasks[0]).toMatchObject({ state: "failed", powerState: "On" });
        expect(done.tasks[0].message).toBe("did not reach Off within 600 ms (last PowerState: On)");
        expect(Date.now() - started).toBeLessThan(5_000);
        expect(await stateOf(nodeId(3))).toBe("On");
      } finally {
        stuck.setFaults({});
      }
    });

    it("aborts mid-flight: the running task stops, the queued one never starts", async () => {
      const stuck = fleet.bmcs[4]!;
      stuck.setFaults({ stuck: true });
      try {
        const base = stuck.resets.length;
        const first = expectStatus(
          await transition({ operation: "off", location: [{ xname: nodeId(4) }], taskDeadlineMinutes: 1 }),
          201,
        );
        const firstId = first.json.metadata.id;
        await waitFor("the Reset to be sent", async () => stuck.resets.length > base);
        // Same BMC: this one waits for the first to free it.
        const second = expectStatus(
          await transition({ operation: "on", location: [{ xname: nodeId(4) }] }),
          201,
        );
        const secondId = second.json.metadata.id;
        await waitFor("the second to be taken", async () => {
          const s = (await t.call("GET", `${T}/${secondId}`)).json.spec;
          return s.tasks[0].state === "in-progress";
        });

        const abort2 = expectStatus(await t.call("DELETE", `${T}/${secondId}`), 202);
        expect(["abort-signaled", "aborted"]).toContain(abort2.json.spec.state);
        const s2 = await settled(secondId);
        expect(s2.state).toBe("aborted");
        expect(s2.tasks[0]).toMatchObject({ state: "aborted", message: "aborted before start" });

        const abort1 = expectStatus(await t.call("DELETE", `${T}/${firstId}`), 202);
        expect(abort1.json.spec.state).toBe("abort-signaled");
        // Asking again is harmless: 202 while abort-signaled, 409 once the agent has stopped it.
        expect([202, 409]).toContain((await t.call("DELETE", `${T}/${firstId}`)).status);
        const s1 = await settled(firstId);
        expect(s1.state).toBe("aborted");
        expect(s1.tasks[0].state).toBe("aborted");
        expect(s1.tasks[0].message).toMatch(/^aborted while verifying ForceOff/);
        expect(stuck.resets.slice(base).map((r) => r.resetType)).toEqual(["ForceOff"]);
        expect(stuck.maxConcurrent).toBe(1);

        const again = expectStatus(await t.call("DELETE", `${T}/${firstId}`), 409);
        expect(again.json.detail).toContain("already aborted");
        expectStatus(await t.call("DELETE", `${T}/00000000-0000-4000-8000-000000000000`), 404);
        expectStatus(await t.call("GET", `${T}/not-a-uuid`), 404);
        const aborted = expectStatus(await t.call("GET", `${T}?state=aborted`), 200);
        expect(aborted.json.metadata.total).toBe(2);
      } finally {
        stuck.setFaults({});
      }
    });

    it("lets viewers read but not power, and operators power", async () => {
      const account = async (id: string, roles: string[]) => {
        const res = expectStatus(
          await t.call("POST", "/auth/v1/service-accounts", { body: { id, roles } }),
          201,
        );
        return tokenFor(t.call, id, res.json.spec.clientSecret);
      };
      const viewer = await account("power-viewer", ["viewer"]);
      const operator = await account("power-operator", ["operator"]);
      const body = { operation: "on", location: [{ xname: nodeId(5) }], dryRun: true };
      const denied = expectStatus(await t.call("POST", T, { body, token: viewer }), 403);
      expect(denied.headers.get("www-authenticate")).toContain("insufficient_scope");
      expectStatus(
        await t.call("POST", "/power/v1/actions/on", { body: { nodes: [nodeId(5)] }, token: viewer }),
        403,
      );
      expectStatus(await t.call("GET", T, { token: viewer }), 200);
      expectStatus(await t.call("GET", "/power/v1/power-status", { token: viewer }), 200);
      expectStatus(await t.call("GET", B, { token: viewer }), 200);
      const made = expectStatus(await t.call("POST", T, { body, token: operator }), 201);
      expect(made.json.spec.requestedBy).toBe("power-operator");
      // Endpoints are admin:power: operators may read them, not change them.
      expectStatus(
        await t.call("POST", B, {
          body: { id: "x1000c1s0b0", address: "10.0.0.1", credentialId: "bmc-cred" },
          token: operator,
        }),
        403,
      );
      expectStatus(await t.call("GET", T, { token: null }), 401);
    });

    it("reports power status by group and state, and refuses unknown names", async () => {
      const all = expectStatus(await t.call("GET", "/power/v1/power-status?group=rack0"), 200);
      expect(all.json.metadata.total).toBe(FLEET);
      expect(all.json.items[0].xname).toBe(nodeId(0));
      const off = expectStatus(await t.call("GET", "/power/v1/power-status?group=rack0&powerState=off"), 200);
      expect(off.json.items.map((s: { xname: string }) => s.xname).sort()).toEqual([nodeId(1)]);
      const fields = expectStatus(
        await t.call("GET", `/power/v1/power-status?xname=${nodeId(1)}&fields=xname,powerState`),
        200,
      );
      expect(fields.json.items).toEqual([{ xname: nodeId(1), powerState: "off" }]);
      expectStatus(await t.call("GET", "/power/v1/power-status?xname=x9999c0s0b0n0"), 422);
      expectStatus(await t.call("GET", "/power/v1/power-status?group=nope"), 422);
      expectStatus(await t.call("GET", "/power/v1/power-status?powerState=maybe"), 400);
    });

    it("writes transition and endpoint events to the outbox (Postgres)", async () => {
      if (!db) return;
      const rows = await new PgOutbox(db.db).after(0, 100_000);
      const power = rows.filter((r) => r.type.startsWith("chamicore.power."));
      const types = new Set(power.map((r) => r.type));
      expect([...types].sort()).toEqual([
        "chamicore.power.bmcs.created",
        "chamicore.power.bmcs.deleted",
        "chamicore.power.bmcs.updated",
        "chamicore.power.transitions.created",
        "chamicore.power.transitions.updated",
      ]);
      const bulk = power.filter(
        (r) =>
          r.type === "chamicore.power.transitions.updated" &&
          (r.data as { spec: { state: string; taskCounts: { total: number } } }).spec.taskCounts.total ===
            FLEET &&
          (r.data as { spec: { state: string } }).spec.state === "completed",
      );
      expect(bulk.length).toBeGreaterThanOrEqual(1);
      expect((bulk[0]!.data as { spec: { tasks: unknown[] } }).spec.tasks).toHaveLength(FLEET);
      const nodeEvents = rows.filter(
        (r) => r.type === "chamicore.smd.components.updated" && r.subject === nodeId(0),
      );
      expect(nodeEvents.map((r) => (r.data as { spec: { state: string } }).spec.state)).toEqual([
        "On",
        "Off",
        "On",
      ]);
    });

    it("fails, in a process started later, the tasks a crashed one left in progress (Postgres)", async () => {
      if (!db || !t.databaseUrl) return;
      const id = crypto.randomUUID();
      const past = new Date(Date.now() - 60_000);
      await db.db.execute(sql`insert into power.transitions (id, operation, state, requested_by, etag)
        values (${id}, 'on', 'in-progress', 'crashed', 'e1')`);
      await db.db.execute(sql`insert into power.tasks (id, transition_id, position, xname, bmc_id, state, message, deadline_at)
        values (${crypto.randomUUID()}, ${id}, 0, ${nodeId(6)}, ${bmcId(6)}, 'in-progress', 'started', ${past})`);
      const other = await startControl(
        {
          ...t.env,
          CHAMICORE_LISTEN: "127.0.0.1:0",
          DATABASE_URL: t.databaseUrl,
          CHAMICORE_DATA_DIR: "/nonexistent",
        },
        silentLogger,
      );
      try {
        const call = urlCall(other.url);
        const done = await settled(id);
        expect(done.state).toBe("completed");
        expect(done.tasks[0]).toMatchObject({ state: "failed" });
        expect(done.tasks[0].message).toMatch(/^agent restarted; state unknown/);
        expect((await call("GET", "/health")).status).toBe(200);
      } finally {
        await other.close();
      }
    });

    it("fails the tasks of a site whose edge went quiet, and the ones no edge took, past their deadline (Postgres, NATS)", async () => {
      if (!db || !t.databaseUrl) return;
      const id = crypto.randomUUID();
      const past = new Date(Date.now() - 60_000);
      const [lost, untaken] = [crypto.randomUUID(), crypto.randomUUID()];
      await db.db.execute(sql`insert into power.transitions (id, operation, state, requested_by, etag)
        values (${id}, 'on', 'in-progress', 'ops', 'e1')`);
      await db.db.execute(sql`insert into power.tasks (id, transition_id, position, xname, bmc_id, state, message, site, deadline_at)
        values (${lost}, ${id}, 0, ${nodeId(7)}, ${bmcId(7)}, 'in-progress', 'started', 'west', ${past}),
               (${untaken}, ${id}, 1, ${nodeId(8)}, ${bmcId(8)}, 'new', 'waiting', 'west', ${past})`);
      const { stream, prefix } = uniqueStream("powersweep");
      const other = await startControl(
        {
          ...t.env,
          CHAMICORE_LISTEN: "127.0.0.1:0",
          DATABASE_URL: t.databaseUrl,
          CHAMICORE_DATA_DIR: "/nonexistent",
          NATS_URL: SHARED_NATS_URL,
          CHAMICORE_NATS_STREAM: stream,
          CHAMICORE_NATS_SUBJECT_PREFIX: prefix,
        },
        silentLogger,
      );
      try {
        const done = await settled(id);
        expect(done.state).toBe("completed");
        const byId = new Map(done.tasks.map((k: { id: string }) => [k.id, k]));
        expect(byId.get(lost)).toMatchObject({ state: "failed" });
        expect((byId.get(lost) as { message: string }).message).toMatch(
          /^the edge agent of site 'west' reported no result before the deadline; state unknown/,
        );
        expect((byId.get(untaken) as { message: string }).message).toMatch(
          /^no edge agent of site 'west' took this task before its deadline \(is an edge with CHAMICORE_EDGE_SITE=west running/,
        );
      } finally {
        await other.close();
        await deleteStream(SHARED_NATS_URL, stream);
      }
    });
  });
}

suite("node+pglite", () => nodePgliteTarget(POWER_ENV));
suite("node+postgres", () => nodePostgresTarget(POWER_ENV));
