/**
 * Bad input gets a clear 4xx naming what was wrong, and changes nothing
 * (issue 16, defects 2, 5, 6 and 7), over real HTTP on the Node server with
 * embedded PGlite and with Postgres: text a database cannot store (NUL, lone
 * surrogates) in bodies, keys, query and path parameters; MACs no NIC can
 * have; body-less POSTs without a Content-Type; an import naming an id twice;
 * a repeated single-valued query parameter.
 */
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Answer, nodePgliteTarget, nodePostgresTarget, type Target } from "../support/targets";

const PROBLEM = /^application\/problem\+json\b/;

/** A raw JSON text with `\u` escapes kept as escapes (JSON.stringify would write NUL as \u0000 too, but not a lone surrogate). */
const raw = (s: string) => s;

function expectProblem(a: Answer, status: number, field?: string, message?: RegExp) {
  expect(a.status, a.text).toBe(status);
  expect(a.headers.get("content-type")).toMatch(PROBLEM);
  if (field !== undefined) {
    const hit = (a.json.errors ?? []).find((e: { field: string }) => e.field === field);
    expect(hit, `a field error for ${field} in ${a.text}`).toBeDefined();
    if (message) expect(hit.message).toMatch(message);
  }
}

/** The change feed's last position: a refused request must not move it. */
async function feedHead(t: Target): Promise<number> {
  const a = await t.call("GET", "/events/v1/changes?after=0&limit=1");
  expect(a.status, a.text).toBe(200);
  return a.json.metadata.head;
}

/** POST with no body and no Content-Length, Transfer-Encoding or Content-Type: what curl -X POST sends. */
function bareHttpPost(url: string, token: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: "POST",
        headers: { Authorization: `Bearer ${token}` },
      },
      (res) => {
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d) => {
          text += d;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
      },
    );
    req.on("error", reject);
    // end() with no data: node:http then sends neither Content-Length nor Transfer-Encoding.
    req.end();
  });
}

/** Sends a body in chunks (Transfer-Encoding: chunked) without a Content-Type. */
function chunkedPostWithoutType(url: string, token: string, body: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = request(
      {
        host: u.hostname,
        port: u.port,
        path: u.pathname,
        method: "POST",
        headers: { Authorization: `Bearer ${token}`, "Transfer-Encoding": "chunked" },
      },
      (res) => {
        res.resume();
        res.on("end", () => resolve(res.statusCode ?? 0));
      },
    );
    req.on("error", reject);
    req.write(body);
    req.end();
  });
}

for (const [name, start] of [
  ["node+pglite", nodePgliteTarget],
  ["node+postgres", nodePostgresTarget],
] as const) {
  describe.sequential(`refused input on ${name}`, () => {
    let t: Target;

    beforeAll(async () => {
      t = await start();
      const c = await t.call("POST", "/hsm/v2/State/Components", {
        body: { id: "x3000c0s0b0n0", interfaces: [{ macAddress: "a4:bf:01:38:ee:65" }] },
      });
      expect(c.status, c.text).toBe(201);
    });

    afterAll(async () => {
      await t?.stop();
    });

    describe("defect 2: NUL and lone surrogates", () => {
      it.each([
        [
          "group description, NUL",
          "POST",
          "/hsm/v2/groups",
          raw('{"name":"g-nul","description":"a\\u0000b"}'),
          "description",
        ],
        [
          "partition description, lone high surrogate",
          "POST",
          "/hsm/v2/partitions",
          raw('{"name":"p-sur","description":"a\\ud800b"}'),
          "description",
        ],
        [
          "interface description, lone low surrogate",
          "POST",
          "/hsm/v2/Inventory/EthernetInterfaces",
          raw('{"componentId":"x3000c0s0b0n0","macAddress":"a4:bf:01:38:ee:70","description":"\\udc00"}'),
          "description",
        ],
        [
          "interface network, NUL",
          "POST",
          "/hsm/v2/Inventory/EthernetInterfaces",
          raw(
            '{"componentId":"x3000c0s0b0n0","macAddress":"a4:bf:01:38:ee:71","ipAddresses":[{"ipAddress":"10.0.0.1","network":"mg\\u0000mt"}]}',
          ),
          "ipAddresses[0].network",
        ],
        [
          "credential username, NUL",
          "POST",
          "/auth/v1/credentials",
          raw('{"id":"cred-nul","name":"bmc","username":"ro\\u0000ot","secret":"s"}'),
          "username",
        ],
        [
          "credential tag value, lone surrogate",
          "POST",
          "/auth/v1/credentials",
          raw('{"id":"cred-sur","name":"bmc","username":"root","secret":"s","tags":{"site":"\\ud83d"}}'),
          "tags.site",
        ],
        [
          "service account description, NUL",
          "POST",
          "/auth/v1/service-accounts",
          raw('{"id":"sa-nul","roles":["viewer"],"description":"\\u0000"}'),
          "description",
        ],
        [
          "revocation reason, NUL",
          "POST",
          "/auth/v1/token/revoke",
          raw('{"jti":"j-nul","reason":"x\\u0000"}'),
          "reason",
        ],
        ["a key, NUL", "POST", "/hsm/v2/groups", raw('{"name":"g-key","bad\\u0000key":1}'), "bad\uFFFDkey"],
        [
          "component PATCH, NUL in an enum",
          "PATCH",
          "/hsm/v2/State/Components/x3000c0s0b0n0",
          raw('{"role":"Comp\\u0000ute"}'),
          "role",
        ],
        [
          "component PUT, lone surrogate",
          "PUT",
          "/hsm/v2/State/Components/x3000c0s0b0n0",
          raw('{"rack":"\\ud800"}'),
          "rack",
        ],
      ])("%s: 422 naming the field, nothing written", async (_what, method, path, body, field) => {
        const before = await feedHead(t);
        const a = await t.call(method, path, { body, headers: { "Content-Type": "application/json" } });
        expectProblem(a, 422, field, /NUL|surrogate/);
        expect(await feedHead(t)).toBe(before);
      });

      it("refuses NUL in the token endpoint's form (422) and in HTTP Basic (401 invalid_client)", async () => {
        const form = { "Content-Type": "application/x-www-form-urlencoded" };
        const inForm = await t.call("POST", "/auth/v1/token", {
          body: "grant_type=client_credentials&client_id=a%00b&client_secret=x",
          headers: form,
          token: null,
        });
        expectProblem(inForm, 422, "client_id", /NUL/);
        const inBasic = await t.call("POST", "/auth/v1/token", {
          body: "grant_type=client_credentials",
          headers: { ...form, Authorization: `Basic ${btoa("a\u0000b:x")}` },
          token: null,
        });
        expect(inBasic.status, inBasic.text).toBe(401);
        expect(inBasic.json.error).toBe("invalid_client");
      });

      it("leaves nothing behind a refused create", async () => {
        expect((await t.call("GET", "/hsm/v2/groups/g-nul")).status).toBe(404);
        expect((await t.call("GET", "/auth/v1/credentials/cred-nul")).status).toBe(404);
        expect((await t.call("GET", "/auth/v1/service-accounts/sa-nul")).status).toBe(404);
      });

      it.each([
        ["/hsm/v2/State/Components?id=%00", "id"],
        ["/hsm/v2/State/Components?role=Compute&parent_id=x%00", "parent_id"],
        ["/hsm/v2/Inventory/EthernetInterfaces?ip=%00", "ip"],
        ["/hsm/v2/groups?tag=%00", "tag"],
        ["/hsm/v2/partitions?member=a%00", "member"],
        ["/auth/v1/credentials?name=%00", "name"],
        ["/auth/v1/service-accounts?id=%00", "id"],
        ["/boot/v1/bootparams?role=%00", "role"],
      ])("GET %s: 400 naming the parameter", async (path, field) => {
        expectProblem(await t.call("GET", path), 400, field, /NUL/);
      });

      it.each([
        ["GET", "/hsm/v2/State/Components/x%00", "id"],
        ["GET", "/auth/v1/service-accounts/a%00b", "id"],
        ["DELETE", "/auth/v1/credentials/c%00", "id"],
      ])("%s %s: 400 naming the path parameter", async (method, path, field) => {
        expectProblem(await t.call(method, path), 400, field, /NUL/);
      });
    });

    describe("found by the fuzz suite", () => {
      it("keeps role changes working after a member whose name holds a quote, comma or parenthesis", async () => {
        for (const subject of ['"x', "a,b", "St)YRW", "(y"]) {
          const a = await t.call("POST", "/auth/v1/roles/operator/members", { body: { subject } });
          expect(a.status, a.text).toBe(200);
          expect(a.json.members).toContain(subject);
        }
        const ok = await t.call("POST", "/auth/v1/roles/viewer/members", {
          body: { subject: "ci-pipeline" },
        });
        expect(ok.status, ok.text).toBe(200);
        const gone = await t.call("DELETE", `/auth/v1/roles/operator/members/${encodeURIComponent('"x')}`);
        expect(gone.status, gone.text).toBeLessThan(300);
      });

      it("refuses power agent calls naming a transition or task that is not a UUID (422, not 500)", async () => {
        const job = await t.call("POST", "/power/v1/agent/jobs/not-a-uuid", { body: { taskIds: ["x"] } });
        expect(job.status, job.text).toBe(422);
        const results = await t.call("POST", "/power/v1/agent/results", {
          body: { transitionId: "{", results: [{ taskId: "t", message: "m", state: "failed" }] },
        });
        expectProblem(results, 422, "transitionId", /UUID/);
      });
    });

    describe("defect 5: MACs no interface can have", () => {
      it.each([
        ["ff:ff:ff:ff:ff:ff", /broadcast/],
        ["00-00-00-00-00-00", /all-zero/],
        ["01:00:5e:00:00:01", /multicast/],
        ["33:33:00:00:00:01", /multicast/],
        ["0300.0000.0001".replaceAll(".", ""), /multicast/],
      ])("%s is refused with 422 and the reason, everywhere a MAC enters", async (mac, reason) => {
        const iface = await t.call("POST", "/hsm/v2/Inventory/EthernetInterfaces", {
          body: { componentId: "x3000c0s0b0n0", macAddress: mac },
        });
        expectProblem(iface, 422, "macAddress", reason);
        const comp = await t.call("POST", "/hsm/v2/State/Components", {
          body: { id: "x3000c0s0b0n9", interfaces: [{ macAddress: mac }] },
        });
        expectProblem(comp, 422, "interfaces[0].macAddress", reason);
        const imp = await t.call("POST", "/hsm/v2/import", {
          body: { components: [{ id: "x3000c0s0b0n8", interfaces: [{ macAddress: mac }] }] },
        });
        expectProblem(imp, 422, "components[0].interfaces[0].macAddress", reason);
        const patch = await t.call("PATCH", "/hsm/v2/Inventory/EthernetInterfaces/a4bf0138ee65", {
          body: { macAddress: mac },
        });
        expectProblem(patch, 422, "macAddress", reason);
        expect((await t.call("GET", "/hsm/v2/State/Components/x3000c0s0b0n9")).status).toBe(404);
        expect((await t.call("GET", "/hsm/v2/State/Components/x3000c0s0b0n8")).status).toBe(404);
      });

      it("still accepts a unicast, locally administered MAC", async () => {
        const a = await t.call("POST", "/hsm/v2/Inventory/EthernetInterfaces", {
          body: { componentId: "x3000c0s0b0n0", macAddress: "02:00:00:00:00:01" },
        });
        expect(a.status, a.text).toBe(201);
      });
    });

    describe("defect 6: body-less POSTs need no Content-Type", () => {
      it("resets a service account's secret from a POST with no body at all", async () => {
        const sa = await t.call("POST", "/auth/v1/service-accounts", {
          body: { id: "sa-bare", roles: ["viewer"] },
        });
        expect(sa.status, sa.text).toBe(201);
        const a = await bareHttpPost(`${t.url}/auth/v1/service-accounts/sa-bare/secret`, t.adminToken);
        expect(a.status, a.text).toBe(200);
        expect(JSON.parse(a.text).spec.clientSecret).toEqual(expect.any(String));
      });

      it("takes an empty chunked POST without a Content-Type as one with no body", async () => {
        const sa = await t.call("POST", "/auth/v1/service-accounts", {
          body: { id: "sa-chunked", roles: ["viewer"] },
        });
        expect(sa.status, sa.text).toBe(201);
        const status = await chunkedPostWithoutType(
          `${t.url}/auth/v1/service-accounts/sa-chunked/secret`,
          t.adminToken,
          "",
        );
        expect(status).toBe(200);
      });

      it("answers a body-less scan start for its scan (404 here), not 415", async () => {
        const a = await bareHttpPost(
          `${t.url}/discovery/v1/agent/scans/00000000-0000-4000-8000-000000000000/start`,
          t.adminToken,
        );
        expect(a.status, a.text).toBe(404);
      });

      it("still refuses a body sent without a Content-Type (chunked) with 415", async () => {
        const status = await chunkedPostWithoutType(`${t.url}/hsm/v2/groups`, t.adminToken, '{"name":"g-x"}');
        expect(status).toBe(415);
        expect((await t.call("GET", "/hsm/v2/groups/g-x")).status).toBe(404);
      });
    });

    describe("defect 7: messages that say what is wrong", () => {
      it("an import naming an id twice says which id, where, and writes nothing", async () => {
        const a = await t.call("POST", "/hsm/v2/import", {
          body: {
            components: [
              { id: "x3000c0s1b0n0" },
              { id: "x3000c0s1b0n1", interfaces: [{ macAddress: "a4:bf:01:00:00:01" }] },
              { id: "x3000c0s1b0n0" },
              { id: "x3000c0s1b0n2", interfaces: [{ macAddress: "A4-BF-01-00-00-01" }] },
            ],
          },
        });
        expectProblem(
          a,
          422,
          "components[2].id",
          /'x3000c0s1b0n0' is repeated: first at components\[0\]\.id/,
        );
        expectProblem(a, 422, "components[3].interfaces[0].macAddress", /components\[1\]\.interfaces\[0\]/);
        expect(a.json.detail).not.toMatch(/already exist/);
        expect((await t.call("GET", "/hsm/v2/State/Components/x3000c0s1b0n1")).status).toBe(404);
      });

      it.each([
        "/hsm/v2/Inventory/EthernetInterfaces?mac=a4bf0138ee65&mac=a4bf0138ee66",
        "/hsm/v2/Inventory/EthernetInterfaces?macAddress=a4bf0138ee65&macAddress=a4bf0138ee66",
        "/cloud-init/user-data?mac=a4bf0138ee65&mac=a4bf0138ee66",
        "/hsm/v2/State/Components?limit=1&limit=2",
      ])("GET %s: 400 saying the parameter may appear once", async (path) => {
        const name = /[?&]([a-zA-Z]+)=.*&\1=/.exec(path)![1]!;
        const a = await t.call("GET", path);
        expectProblem(a, 400, name, /may appear only once/);
        expect(a.json.detail).toBe(`The query parameter ${name} may appear only once`);
      });
    });
  });
}
