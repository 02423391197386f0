/**
 * Discovery end to end: the control plane (Node, on embedded PGlite and on
 * Postgres) with its in-process agent, against emulated BMCs (DMTF
 * rackmount1 and tower). Targets and credentials are made through the API;
 * a scan fills the inventory and the power BMC endpoints; a re-scan merges
 * (no duplicates, operator fields kept); a dry run writes nothing; a wrong
 * password fails only its address; cancel, drivers and scopes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmulatedBmc, startBmc, startBmcs } from "../support/bmc";
import { type Answer, nodePgliteTarget, nodePostgresTarget, type Target, tokenFor } from "../support/targets";

const S = "/discovery/v1/scans";
const TG = "/discovery/v1/targets";
const C = "/hsm/v2/State/Components";
const RACK = "x1000c0s0b0";
const TOWER = "x1000c0s1b0";
const CHASSIS = "x1000c0";

const expectStatus = (a: Answer, status: number) => {
  expect(a.status, a.text.slice(0, 800)).toBe(status);
  if (status >= 400) expect(a.headers.get("content-type")).toMatch(/^application\/problem\+json/);
  return a;
};

function suite(name: string, start: () => Promise<Target>) {
  describe.sequential(`discovery on ${name}`, () => {
    let t: Target;
    let rack: EmulatedBmc;
    let tower: EmulatedBmc;

    beforeAll(async () => {
      [t, rack, tower] = await Promise.all([
        start(),
        startBmc({ mockup: "public-rackmount1", username: "admin", password: "password" }),
        startBmc({ mockup: "public-tower", username: "admin", password: "password" }),
      ]);
    });
    afterAll(async () => {
      await t?.stop();
      await rack?.close();
      await tower?.close();
    });

    /** Polls the scan until it is final. */
    async function settled(id: string, timeoutMs = 20_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const a = expectStatus(await t.call("GET", `${S}/${id}`), 200);
        if (["completed", "failed", "cancelled"].includes(a.json.spec.state)) return a.json.spec;
        if (Date.now() > until) throw new Error(`scan ${id} still ${a.json.spec.state}: ${a.text}`);
        await new Promise((r) => setTimeout(r, 25));
      }
    }
    const scan = async (body: unknown) => {
      const a = expectStatus(await t.call("POST", S, { body }), 201);
      expect(a.json).toMatchObject({ kind: "DiscoveryScan", apiVersion: "discovery/v1" });
      return settled(a.json.metadata.id);
    };
    const total = async (path: string) => expectStatus(await t.call("GET", path), 200).json.metadata.total;
    const macsOf = async (id: string) =>
      expectStatus(await t.call("GET", `/hsm/v2/Inventory/EthernetInterfaces?componentId=${id}`), 200)
        .json.items.map((i: { spec: { macAddress: string } }) => i.spec.macAddress)
        .sort();
    const naming = (id: string) => ({ naming: { map: { "127.0.0.1": id } } });

    it("creates credentials and targets", async () => {
      for (const [id, secret] of [
        ["bmc-cred", "password"],
        ["bad-cred", "wrong"],
      ])
        expectStatus(
          await t.call("POST", "/auth/v1/credentials", {
            body: { id, name: id, type: "redfish", username: "admin", secret },
          }),
          201,
        );
      const a = expectStatus(
        await t.call("POST", TG, {
          body: { id: "rack", addresses: [rack.url], credentialId: "bmc-cred", options: naming(RACK) },
        }),
        201,
      );
      expect(a.headers.get("location")).toBe(`${TG}/rack`);
      expect(a.json).toMatchObject({
        kind: "DiscoveryTarget",
        apiVersion: "discovery/v1",
        spec: {
          id: "rack",
          addresses: [rack.url],
          driver: "redfish",
          site: null,
          options: { auth: "basic", insecure: false, naming: { map: { "127.0.0.1": RACK } } },
        },
      });
      for (const [id, url, cred, name] of [
        ["tower", tower.url, "bmc-cred", TOWER],
        ["bad", tower.url, "bad-cred", TOWER],
      ] as const)
        expectStatus(
          await t.call("POST", TG, {
            body: { id, addresses: [url], credentialId: cred, options: naming(name) },
          }),
          201,
        );
      expectStatus(
        await t.call("POST", TG, { body: { id: "rack", addresses: [rack.url], credentialId: "bmc-cred" } }),
        409,
      );
      const bad = expectStatus(
        await t.call("POST", TG, {
          body: {
            id: "rack2",
            addresses: ["ftp://a"],
            credentialId: "nope",
            options: { naming: { rule: "x{q}" } },
          },
        }),
        422,
      );
      expect(bad.json.errors.map((e: { field: string }) => e.field)).toContain("addresses[0]");
      expectStatus(
        await t.call("POST", TG, { body: { id: "rack2", addresses: [rack.url], credentialId: "nope" } }),
        422,
      );
      const opts = expectStatus(
        await t.call("POST", TG, {
          body: {
            id: "rack2",
            addresses: [rack.url],
            credentialId: "bmc-cred",
            options: { auth: "kerberos" },
          },
        }),
        422,
      );
      expect(opts.json.errors[0].field).toBe("options.auth");
      // PUT needs If-Match.
      const body = { addresses: [rack.url], credentialId: "bmc-cred", options: naming(RACK), name: "Rack 1" };
      expectStatus(await t.call("PUT", `${TG}/rack`, { body }), 428);
      const etag = (await t.call("GET", `${TG}/rack`)).headers.get("etag")!;
      const put = expectStatus(
        await t.call("PUT", `${TG}/rack`, { body, headers: { "If-Match": etag } }),
        200,
      );
      expect(put.json.spec.name).toBe("Rack 1");
      expectStatus(await t.call("PUT", `${TG}/rack`, { body, headers: { "If-Match": etag } }), 412);
      expect(await total(TG)).toBe(3);
    });

    it("patches a target: options merge key by key, null resets, the result is checked as a replace", async () => {
      const mp = { "Content-Type": "application/merge-patch+json" };
      expectStatus(
        await t.call("POST", TG, {
          body: {
            id: "patchme",
            name: "Row 9",
            addresses: [rack.url],
            credentialId: "bmc-cred",
            site: "east",
            options: { auth: "session", naming: { rule: "x9000c0s{index}b0" } },
          },
        }),
        201,
      );
      const a = expectStatus(
        await t.call("PATCH", `${TG}/patchme`, {
          body: {
            options: { insecure: true, naming: { rule: null, map: { "127.0.0.1": "x9000c0s1b0" } } },
            site: null,
          },
          headers: mp,
        }),
        200,
      );
      expect(a.json.spec).toMatchObject({
        name: "Row 9",
        addresses: [rack.url],
        site: null,
        options: { auth: "session", insecure: true, naming: { map: { "127.0.0.1": "x9000c0s1b0" } } },
      });
      expect(a.json.spec.options.naming.rule).toBeUndefined();
      // Refused patches change nothing: a bad address, a bad option, another id, a stale etag.
      const etag = a.headers.get("etag")!;
      const bad = expectStatus(
        await t.call("PATCH", `${TG}/patchme`, { body: { addresses: ["not a url at all"] }, headers: mp }),
        422,
      );
      expect(bad.json.errors[0].field).toMatch(/^addresses/);
      const opt = expectStatus(
        await t.call("PATCH", `${TG}/patchme`, { body: { options: { auth: "kerberos" } }, headers: mp }),
        422,
      );
      expect(opt.json.errors[0].field).toBe("options.auth");
      expectStatus(await t.call("PATCH", `${TG}/patchme`, { body: { id: "other" }, headers: mp }), 422);
      expectStatus(await t.call("PATCH", `${TG}/patchme`, { body: { addresses: null }, headers: mp }), 400);
      expectStatus(
        await t.call("PATCH", `${TG}/patchme`, {
          body: { name: "x" },
          headers: { ...mp, "If-Match": '"stale"' },
        }),
        412,
      );
      const now = expectStatus(await t.call("GET", `${TG}/patchme`), 200);
      expect(now.headers.get("etag")).toBe(etag);
      expect(now.json.spec).toEqual(a.json.spec);
      expectStatus(
        await t.call("PATCH", `${TG}/patchme`, {
          body: { name: null, options: null },
          headers: { ...mp, "If-Match": etag },
        }),
        200,
      );
      expect(expectStatus(await t.call("GET", `${TG}/patchme`), 200).json.spec).toMatchObject({
        name: "",
        options: { auth: "basic", insecure: false },
      });
      expectStatus(await t.call("DELETE", `${TG}/patchme`), 204);
    });

    it("reads several BMCs of a scan at once and merges them in address order", async () => {
      const fleet = await startBmcs(12, { latencyMs: 40, username: "admin", password: "password" });
      try {
        expectStatus(
          await t.call("POST", TG, {
            body: {
              id: "row7",
              addresses: fleet.urls,
              credentialId: "bmc-cred",
              options: { naming: { rule: "x7000c0s{index}b0" } },
            },
          }),
          201,
        );
        // A dry run: the twelve share the mockup's MACs, which later tests expect on rack and tower.
        const done = await scan({ targets: ["row7"], dryRun: true });
        expect(done.state).toBe("completed");
        expect(done.results.map((r: { address: string }) => r.address)).toEqual(fleet.urls);
        expect(done.results.map((r: { bmcId: string }) => r.bmcId)).toEqual(
          fleet.urls.map((_, i) => `x7000c0s${i}b0`),
        );
        // BMCs being read at once: each BMC's span from its first request to its last answer.
        const spans = fleet.bmcs.map((b) => [
          Math.min(...b.requests.map((r) => r.seq)),
          Math.max(...b.requests.map((r) => r.endSeq ?? r.seq)),
        ]);
        const most = Math.max(
          ...spans.map(([from]) => spans.filter(([a, z]) => a! <= from! && from! <= z!).length),
        );
        expect(most).toBeGreaterThan(1);
        expect(most).toBeLessThanOrEqual(8);
      } finally {
        await t.call("DELETE", `${TG}/row7`);
        await fleet.close();
      }
    });

    it("lists the drivers", async () => {
      const a = expectStatus(await t.call("GET", "/discovery/v1/drivers"), 200);
      expect(a.json.items.map((d: { name: string }) => d.name)).toEqual(["redfish", "import"]);
      expect(a.json.items[0].options.properties).toHaveProperty("naming");
    });

    it("scans two BMCs into the inventory and the power endpoints", async () => {
      const done = await scan({ targets: ["rack", "tower"] });
      expect(done.state).toBe("completed");
      expect(done.results).toHaveLength(2);
      const [r, w] = done.results;
      expect(r).toMatchObject({ targetId: "rack", address: rack.url, state: "ok", bmcId: RACK, error: null });
      // The enclosing chassis comes first (the BMC id is an xname inside it).
      expect(r.created).toEqual([CHASSIS, RACK, `${RACK}n0`]);
      expect(r.bmcEndpoint).toBe("created");
      expect(w).toMatchObject({ targetId: "tower", state: "ok", bmcId: TOWER, bmcEndpoint: "created" });
      expect(w.created).toEqual([TOWER, `${TOWER}n0`]);
      expect(w.unchanged).toEqual([CHASSIS]);
      const node = expectStatus(await t.call("GET", `${C}/${RACK}n0`), 200).json.spec;
      expect(node).toMatchObject({ type: "Node", state: "On", parentId: RACK });
      expect(await macsOf(`${RACK}n0`)).toEqual(["12:44:6a:3b:04:11", "aa:bb:cc:dd:ee:00"]);
      expect(await macsOf(`${TOWER}n0`)).toEqual(["fb:aa:1d:4e:d0:7a", "fb:aa:1d:4e:d0:7c"]);
      // Both mockups' managers have the same MAC: the first BMC keeps it.
      expect(await macsOf(RACK)).toEqual(["23:11:8a:33:cf:ea"]);
      expect(await macsOf(TOWER)).toEqual([]);
      const bmc = expectStatus(await t.call("GET", `/power/v1/bmcs/${RACK}`), 200).json.spec;
      expect(bmc).toEqual({
        id: RACK,
        address: rack.url,
        credentialId: "bmc-cred",
        auth: "basic",
        insecure: false,
        site: null,
      });
      expect(await total("/power/v1/bmcs")).toBe(2);
    });

    it("re-scans without duplicates, keeping what an operator set", async () => {
      const before = {
        components: await total(C),
        interfaces: await total("/hsm/v2/Inventory/EthernetInterfaces"),
      };
      expectStatus(
        await t.call("PATCH", `${C}/${RACK}n0`, {
          body: { role: "Compute", nid: 7, state: "Off" },
          headers: { "Content-Type": "application/merge-patch+json" },
        }),
        200,
      );
      // An operator replaced the address the BMC reports with one of their own.
      const nic = expectStatus(
        await t.call("GET", "/hsm/v2/Inventory/EthernetInterfaces?macAddress=12:44:6a:3b:04:11"),
        200,
      ).json.items[0].spec;
      const reported = nic.ipAddresses.map((a: { ipAddress: string }) => a.ipAddress);
      expect(reported.length).toBeGreaterThan(0);
      expectStatus(
        await t.call("PATCH", `/hsm/v2/Inventory/EthernetInterfaces/${nic.id}`, {
          body: { ipAddresses: [{ ipAddress: "10.9.9.9" }] },
          headers: { "Content-Type": "application/merge-patch+json" },
        }),
        200,
      );
      const done = await scan({});
      expect(done.state).toBe("completed");
      expect(done.results.map((x: { targetId: string }) => x.targetId)).toEqual(["bad", "rack", "tower"]);
      const [bad, r, w] = done.results;
      expect(bad.state).toBe("failed");
      expect(r).toMatchObject({
        state: "ok",
        created: [],
        updated: [`${RACK}n0`],
        unchanged: [CHASSIS, RACK],
      });
      expect(r.bmcEndpoint).toBe("unchanged");
      // The reported address is back beside the operator's; nothing was removed.
      expect(r.ipAddressesAdded).toEqual(reported.map((ip: string) => `12:44:6a:3b:04:11 ${ip}`));
      const after = expectStatus(await t.call("GET", `/hsm/v2/Inventory/EthernetInterfaces/${nic.id}`), 200)
        .json.spec;
      expect(after.ipAddresses.map((a: { ipAddress: string }) => a.ipAddress)).toEqual([
        "10.9.9.9",
        ...reported,
      ]);
      expect(w).toMatchObject({
        state: "ok",
        created: [],
        updated: [],
        unchanged: [CHASSIS, TOWER, `${TOWER}n0`],
      });
      expect(await total(C)).toBe(before.components);
      expect(await total("/hsm/v2/Inventory/EthernetInterfaces")).toBe(before.interfaces);
      const node = expectStatus(await t.call("GET", `${C}/${RACK}n0`), 200).json.spec;
      expect(node).toMatchObject({ role: "Compute", nid: 7, state: "On" });
    });

    it("fails only the address with the wrong password, with a clear error", async () => {
      const done = await scan({ targets: ["bad", "rack"] });
      expect(done.state).toBe("completed");
      const [bad, r] = done.results;
      expect(bad).toMatchObject({
        targetId: "bad",
        address: tower.url,
        state: "failed",
        bmcId: null,
        created: [],
      });
      expect(bad.error).toMatch(/refused the credential 'bad-cred' \(HTTP 401\)/);
      expect(r.state).toBe("ok");
      const only = await scan({ targets: ["bad"] });
      expect(only.state).toBe("failed");
    });

    it("writes nothing on a dry run", async () => {
      expectStatus(await t.call("DELETE", `${C}/${TOWER}n0`), 204);
      const before = await total(C);
      const done = await scan({ targets: ["tower"], dryRun: true });
      expect(done).toMatchObject({ state: "completed", dryRun: true });
      expect(done.results[0]).toMatchObject({
        state: "ok",
        created: [`${TOWER}n0`],
        unchanged: [CHASSIS, TOWER],
      });
      expect(done.results[0].interfacesAdded).toEqual(["fb:aa:1d:4e:d0:7a", "fb:aa:1d:4e:d0:7c"]);
      expect(await total(C)).toBe(before);
      expectStatus(await t.call("GET", `${C}/${TOWER}n0`), 404);
      // A real scan puts it back.
      const real = await scan({ targets: ["tower"] });
      expect(real.results[0].created).toEqual([`${TOWER}n0`]);
      expectStatus(await t.call("GET", `${C}/${TOWER}n0`), 200);
    });

    it("cancels, lists and refuses what does not exist", async () => {
      const a = expectStatus(await t.call("POST", S, { body: { targets: ["rack"] } }), 201);
      const id = a.json.metadata.id;
      const c = await t.call("DELETE", `${S}/${id}`);
      // The agent may have finished it already.
      if (c.status === 202) expect(c.json.spec.state).toBe("cancelled");
      else expectStatus(c, 409);
      expect((await settled(id)).state).toMatch(/cancelled|completed/);
      expectStatus(await t.call("DELETE", `${S}/${id}`), 409);
      expectStatus(await t.call("GET", `${S}/${crypto.randomUUID()}`), 404);
      expectStatus(await t.call("GET", `${S}/nope`), 404);
      const missing = expectStatus(await t.call("POST", S, { body: { targets: ["rack", "nope"] } }), 422);
      expect(missing.json.errors[0].field).toBe("targets[1]");
      const list = expectStatus(await t.call("GET", `${S}?state=completed`), 200).json;
      expect(list.metadata.total).toBeGreaterThanOrEqual(5);
      expect(list.items[0].spec).not.toHaveProperty("results");
    });

    it("lets viewers read but not scan, and operators scan", async () => {
      const account = async (id: string, roles: string[]) => {
        const res = expectStatus(
          await t.call("POST", "/auth/v1/service-accounts", { body: { id, roles } }),
          201,
        );
        return tokenFor(t.call, id, res.json.spec.clientSecret);
      };
      const viewer = await account("discovery-viewer", ["viewer"]);
      const operator = await account("discovery-operator", ["operator"]);
      expectStatus(await t.call("POST", S, { body: { targets: ["rack"] }, token: viewer }), 403);
      expectStatus(await t.call("DELETE", `${TG}/rack`, { token: viewer }), 403);
      expectStatus(await t.call("GET", S, { token: viewer }), 200);
      expectStatus(await t.call("GET", TG, { token: viewer }), 200);
      expectStatus(await t.call("GET", "/discovery/v1/drivers", { token: viewer }), 200);
      const a = expectStatus(await t.call("POST", S, { body: { targets: ["rack"] }, token: operator }), 201);
      expect(a.json.spec.requestedBy).toBe("discovery-operator");
      await settled(a.json.metadata.id);
      expectStatus(await t.call("DELETE", `${TG}/bad`, { token: operator }), 204);
    });

    it("spells out address ranges when a target is stored, and names a bad one", async () => {
      const a = expectStatus(
        await t.call("POST", TG, {
          body: {
            id: "ranged",
            addresses: ["10.250.0.1-3", "10.250.0.2", "10.250.1.254-10.250.2.1"],
            credentialId: "bmc-cred",
          },
        }),
        201,
      );
      expect(a.json.spec.addresses).toEqual([
        "https://10.250.0.1",
        "https://10.250.0.2",
        "https://10.250.0.3",
        "https://10.250.1.254",
        "https://10.250.1.255",
        "https://10.250.2.0",
        "https://10.250.2.1",
      ]);
      const bad = expectStatus(
        await t.call("POST", TG, {
          body: { id: "backwards", addresses: ["10.250.0.1", "10.250.0.9-3"], credentialId: "bmc-cred" },
        }),
        422,
      );
      expect(bad.json.errors).toEqual([{ field: "addresses[1]", message: expect.stringMatching(/X ≤ Y/) }]);
      const huge = expectStatus(
        await t.call("POST", TG, {
          body: { id: "huge", addresses: ["10.0.0.0-10.1.0.0"], credentialId: "bmc-cred" },
        }),
        422,
      );
      expect(huge.json.errors[0].message).toMatch(/more than 4096/);
      expect((await t.call("GET", `${TG}/backwards`)).status).toBe(404);
      expectStatus(await t.call("DELETE", `${TG}/ranged`), 204);
    });

    it("scans a scheduled target at once and then on its turn; a new schedule starts over", async () => {
      const created = expectStatus(
        await t.call("POST", TG, {
          body: {
            id: "nightly",
            addresses: [rack.url],
            credentialId: "bmc-cred",
            options: naming(RACK),
            schedule: { everyMinutes: 1440 },
          },
        }),
        201,
      );
      expect(created.json.spec.schedule).toEqual({ everyMinutes: 1440 });
      const scheduled = async () =>
        expectStatus(await t.call("GET", `${S}?requestedBy=schedule`), 200).json.items.filter(
          (s: { spec: { targetIds: string[] } }) => s.spec.targetIds[0] === "nightly",
        );
      const until = Date.now() + 15_000;
      while ((await scheduled()).length === 0 && Date.now() < until)
        await new Promise((r) => setTimeout(r, 100));
      const [first] = await scheduled();
      expect(first?.spec).toMatchObject({ targetIds: ["nightly"], dryRun: false, site: null });
      const done = await settled(first.metadata.id);
      expect(done.state).toBe("completed");
      expect(done.results[0]).toMatchObject({ targetId: "nightly", state: "ok", bmcId: RACK });
      // The next turn is a day on; nothing more starts meanwhile.
      const next = Date.parse(expectStatus(await t.call("GET", `${TG}/nightly`), 200).json.spec.nextScanAt);
      expect(next - Date.now()).toBeGreaterThan(1439 * 60_000);
      await new Promise((r) => setTimeout(r, 1000));
      expect(await scheduled()).toHaveLength(1);
      // A changed schedule starts over: a scan at once; removing it stops the turns.
      const etag = (await t.call("GET", `${TG}/nightly`)).headers.get("etag")!;
      const patched = expectStatus(
        await t.call("PATCH", `${TG}/nightly`, {
          body: { schedule: { everyMinutes: 60 } },
          headers: { "Content-Type": "application/merge-patch+json", "If-Match": etag },
        }),
        200,
      );
      expect(Date.parse(patched.json.spec.nextScanAt)).toBeLessThanOrEqual(Date.now());
      const until2 = Date.now() + 15_000;
      while ((await scheduled()).length < 2 && Date.now() < until2)
        await new Promise((r) => setTimeout(r, 100));
      expect(await scheduled()).toHaveLength(2);
      const off = expectStatus(
        await t.call("PATCH", `${TG}/nightly`, {
          body: { schedule: null },
          headers: { "Content-Type": "application/merge-patch+json" },
        }),
        200,
      );
      expect(off.json.spec).toMatchObject({ schedule: null, nextScanAt: null });
      for (const s of await scheduled()) await settled(s.metadata.id);
      expectStatus(await t.call("DELETE", `${TG}/nightly`), 204);
    });
  });
}

const SCHEDULER = { CHAMICORE_DISCOVERY_SCHEDULE_POLL_SECONDS: "0.2" };
suite("node+pglite", () => nodePgliteTarget(SCHEDULER));
suite("node+postgres", () => nodePostgresTarget(SCHEDULER));
