/**
 * The inventory conformance script: one sequence of HTTP exchanges that a
 * site admin's tooling would make, with the expected outcome of each. It
 * runs unchanged against every target; its transcript (status + body with
 * volatile values masked) must be identical across targets.
 */
import { expect } from "vitest";
import type { Answer, Call } from "../support/targets";

export interface Step {
  step: string;
  status: number;
  body: unknown;
}

const VOLATILE = new Set(["etag", "createdAt", "updatedAt", "requestId"]);
const GENERATED_ID = /\b(switch|node)-[0-9a-f]{8}\b/g;

/** Masks what legitimately differs per run: timestamps, etags, request and generated ids. */
export function normalize(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(normalize);
  if (v && typeof v === "object")
    return Object.fromEntries(
      Object.entries(v).map(([k, x]) => [k, VOLATILE.has(k) ? `<${k}>` : normalize(x)]),
    );
  if (typeof v === "string") return v.replace(GENERATED_ID, "$1-<generated>");
  return v;
}

const C = "/hsm/v2/State/Components";
const I = "/hsm/v2/Inventory/EthernetInterfaces";

export async function runInventoryScript(call: Call): Promise<Step[]> {
  const transcript: Step[] = [];
  const rec = async (step: string, p: Promise<Answer>, status: number): Promise<Answer> => {
    const a = await p;
    transcript.push({ step, status: a.status, body: normalize(a.json ?? (a.text || null)) });
    expect(a.status, `${step}: ${a.text.slice(0, 500)}`).toBe(status);
    if (status >= 400) {
      expect(a.headers.get("content-type"), step).toMatch(/^application\/problem\+json/);
      expect(a.json.status, step).toBe(status);
      expect(a.json.title, step).toBeTruthy();
    }
    return a;
  };
  const fieldsOf = (a: Answer) => (a.json.errors ?? []).map((e: { field: string }) => e.field);

  // --- operations
  await rec("health", call("GET", "/health"), 200);
  await rec("readiness", call("GET", "/readiness"), 200);

  // --- create
  const bmc = await rec("create BMC", call("POST", C, { body: { id: "x1000c0s0b0", state: "Ready" } }), 201);
  expect(bmc.headers.get("location")).toBe(`${C}/x1000c0s0b0`);
  expect(bmc.json.spec.type).toBe("NodeBMC");
  const n0 = await rec(
    "create node with interface",
    call("POST", C, {
      body: {
        id: "x1000c0s0b0n0",
        parentId: "x1000c0s0b0",
        role: "Compute",
        nid: 1,
        arch: "X86",
        interfaces: [
          { macAddress: "AA-BB-CC-00-00-01", ipAddresses: [{ ipAddress: "10.1.0.1", network: "mgmt" }] },
        ],
      },
    }),
    201,
  );
  expect(n0.json.spec).toMatchObject({
    type: "Node",
    rack: "x1000",
    parentId: "x1000c0s0b0",
    state: "Empty",
  });
  expect(n0.headers.get("etag")).toBe(`"${n0.json.metadata.etag}"`);
  await rec(
    "create second node",
    call("POST", C, {
      body: {
        id: "x1000c0s0b0n1",
        parentId: "x1000c0s0b0",
        role: "Compute",
        subRole: "Worker",
        nid: 2,
        interfaces: [{ macAddress: "aabbcc000002" }],
      },
    }),
    201,
  );
  const sw = await rec(
    "create with generated id",
    call("POST", C, { body: { type: "Switch", rack: "r2" } }),
    201,
  );
  expect(sw.json.metadata.id).toMatch(/^switch-[0-9a-f]{8}$/);
  await rec("duplicate id", call("POST", C, { body: { id: "x1000c0s0b0n0" } }), 409);
  const orphan = await rec(
    "unknown parent",
    call("POST", C, { body: { id: "x1000c0s0b0n7", parentId: "x9c9" } }),
    422,
  );
  expect(fieldsOf(orphan)).toEqual(["parentId"]);
  const notype = await rec("no type, not an xname", call("POST", C, { body: { id: "mystery-box" } }), 422);
  expect(fieldsOf(notype)).toEqual(["type"]);

  // --- read, conditional read
  const got = await rec("get", call("GET", `${C}/x1000c0s0b0n0`), 200);
  const etag0 = got.headers.get("etag")!;
  expect(etag0).toBe(`"${got.json.metadata.etag}"`);
  expect(got.headers.get("cache-control")).toBe("no-cache");
  await rec(
    "get if-none-match",
    call("GET", `${C}/x1000c0s0b0n0`, { headers: { "If-None-Match": etag0 } }),
    304,
  );
  await rec("get missing", call("GET", `${C}/x1000c9s9b9n9`), 404);

  // --- replace with If-Match
  const full = { role: "Compute", nid: 1, parentId: "x1000c0s0b0", state: "Ready", arch: "X86" };
  await rec("put without if-match", call("PUT", `${C}/x1000c0s0b0n0`, { body: full }), 428);
  await rec(
    "put stale if-match",
    call("PUT", `${C}/x1000c0s0b0n0`, { body: full, headers: { "If-Match": '"stale"' } }),
    412,
  );
  const put = await rec(
    "put",
    call("PUT", `${C}/x1000c0s0b0n0`, { body: full, headers: { "If-Match": etag0 } }),
    200,
  );
  expect(put.json.spec.state).toBe("Ready");
  expect(put.headers.get("etag")).not.toBe(etag0);
  await rec(
    "put with old etag again",
    call("PUT", `${C}/x1000c0s0b0n0`, { body: full, headers: { "If-Match": etag0 } }),
    412,
  );
  await rec(
    "put id mismatch",
    call("PUT", `${C}/x1000c0s0b0n0`, { body: { ...full, id: "other" }, headers: { "If-Match": "*" } }),
    422,
  );
  await rec(
    "put self-parent",
    call("PUT", `${C}/x1000c0s0b0`, { body: { parentId: "x1000c0s0b0" }, headers: { "If-Match": "*" } }),
    422,
  );
  await rec(
    "put parent cycle",
    call("PUT", `${C}/x1000c0s0b0`, { body: { parentId: "x1000c0s0b0n0" }, headers: { "If-Match": "*" } }),
    422,
  );

  // --- merge patch
  const patched = await rec(
    "merge patch",
    call("PATCH", `${C}/x1000c0s0b0n0`, {
      body: { state: "On", arch: null },
      headers: { "Content-Type": "application/merge-patch+json" },
    }),
    200,
  );
  expect(patched.json.spec).toMatchObject({ state: "On", arch: null, role: "Compute", nid: 1 });
  await rec(
    "patch stale if-match",
    call("PATCH", `${C}/x1000c0s0b0n0`, { body: { nid: 5 }, headers: { "If-Match": etag0 } }),
    412,
  );
  await rec("patch type null", call("PATCH", `${C}/x1000c0s0b0n0`, { body: { type: null } }), 422);

  // --- interfaces
  const dupMac = await rec(
    "duplicate MAC in another spelling",
    call("POST", I, { body: { componentId: "x1000c0s0b0n1", macAddress: "AA:BB:CC:00:00:01" } }),
    409,
  );
  expect(dupMac.json.detail).toContain("aa:bb:cc:00:00:01");
  await rec(
    "interface bad MAC",
    call("POST", I, { body: { componentId: "x1000c0s0b0n1", macAddress: "zz:bb" } }),
    422,
  );
  await rec(
    "interface unknown component",
    call("POST", I, { body: { componentId: "nope-1", macAddress: "aabbcc0000ff" } }),
    422,
  );
  const extra = await rec(
    "interface create",
    call("POST", I, {
      body: {
        componentId: "x1000c0s0b0n1",
        macAddress: "aabbcc0000f1",
        ipAddresses: [{ ipAddress: "10.1.0.99" }],
      },
    }),
    201,
  );
  expect(extra.json.spec).toMatchObject({ id: "aabbcc0000f1", macAddress: "aa:bb:cc:00:00:f1" });
  const byMac = await rec(
    "interfaces by MAC (any spelling)",
    call("GET", `${I}?macAddress=AABBCC000001`),
    200,
  );
  expect(byMac.json.items.map((i: { spec: { componentId: string } }) => i.spec.componentId)).toEqual([
    "x1000c0s0b0n0",
  ]);
  const byComp = await rec("interfaces by component", call("GET", `${I}?componentId=x1000c0s0b0n1`), 200);
  expect(byComp.json.metadata.total).toBe(2);
  const byIp = await rec("interfaces by IP", call("GET", `${I}?ipAddress=10.1.0.99`), 200);
  expect(byIp.json.metadata.total).toBe(1);
  await rec(
    "interface patch",
    call("PATCH", `${I}/aabbcc0000f1`, { body: { description: "second port", ipAddresses: null } }),
    200,
  );
  await rec(
    "interface patch to a used MAC",
    call("PATCH", `${I}/aabbcc0000f1`, { body: { macAddress: "aabbcc000002" } }),
    409,
  );
  await rec("interface delete", call("DELETE", `${I}/aabbcc0000f1`), 204);
  await rec("interface get deleted", call("GET", `${I}/aabbcc0000f1`), 404);

  // --- filters, totals, sort, pagination, sparse fields
  const ids = (a: Answer) => a.json.items.map((i: { metadata: { id: string } }) => i.metadata.id);
  expect(ids(await rec("filter type", call("GET", `${C}?type=Node`), 200))).toEqual([
    "x1000c0s0b0n0",
    "x1000c0s0b0n1",
  ]);
  expect((await rec("filter type OR", call("GET", `${C}?type=Node,NodeBMC`), 200)).json.metadata.total).toBe(
    3,
  );
  expect(ids(await rec("filter AND", call("GET", `${C}?type=Node&subRole=Worker`), 200))).toEqual([
    "x1000c0s0b0n1",
  ]);
  expect(
    (await rec("filter parent_id alias", call("GET", `${C}?parent_id=x1000c0s0b0`), 200)).json.metadata.total,
  ).toBe(2);
  expect(ids(await rec("filter nid", call("GET", `${C}?nid=2`), 200))).toEqual(["x1000c0s0b0n1"]);
  expect(ids(await rec("filter rack", call("GET", `${C}?rack=r2`), 200))).toHaveLength(1);
  const page = await rec("page", call("GET", `${C}?sort=-id&limit=2&offset=1`), 200);
  expect(page.json.metadata).toEqual({ total: 4, limit: 2, offset: 1 });
  expect(ids(page)).toEqual(["x1000c0s0b0n0", "x1000c0s0b0"]);
  const sparse = await rec("sparse fields", call("GET", `${C}?type=Node&fields=id,nid`), 200);
  expect(sparse.json.items[0].spec).toEqual({ id: "x1000c0s0b0n0", nid: 1 });
  const badQ = await rec("unknown filter", call("GET", `${C}?tpye=Node`), 400);
  expect(fieldsOf(badQ)).toEqual(["tpye"]);
  await rec("bad enum filter", call("GET", `${C}?state=Melting`), 400);
  await rec("bad limit", call("GET", `${C}?limit=0`), 400);

  // --- list ETag: 304 while unchanged, 200 after any change
  const list = await rec("list for etag", call("GET", C), 200);
  const listTag = list.headers.get("etag")!;
  expect(listTag).toBeTruthy();
  await rec("list if-none-match", call("GET", C, { headers: { "If-None-Match": listTag } }), 304);
  await rec("patch for list change", call("PATCH", `${C}/x1000c0s0b0n1`, { body: { state: "Off" } }), 200);
  await rec("list after update", call("GET", C, { headers: { "If-None-Match": listTag } }), 200);

  // --- groups
  const grp = await rec(
    "group create",
    call("POST", "/hsm/v2/groups", {
      body: { name: "compute", description: "all compute", tags: ["hpc"], members: ["x1000c0s0b0n0"] },
    }),
    201,
  );
  expect(grp.json.spec.members).toEqual(["x1000c0s0b0n0"]);
  await rec("group duplicate", call("POST", "/hsm/v2/groups", { body: { name: "compute" } }), 409);
  const badMember = await rec(
    "group unknown member",
    call("POST", "/hsm/v2/groups", { body: { name: "g2", members: ["nope-x"] } }),
    422,
  );
  expect(fieldsOf(badMember)).toEqual(["members[0]"]);
  const added = await rec(
    "group add members",
    call("POST", "/hsm/v2/groups/compute/members", { body: { ids: ["x1000c0s0b0n1", "x1000c0s0b0n0"] } }),
    200,
  );
  expect(added.json.spec.members).toEqual(["x1000c0s0b0n0", "x1000c0s0b0n1"]);
  await rec("group remove member", call("DELETE", "/hsm/v2/groups/compute/members/x1000c0s0b0n0"), 204);
  await rec("group remove non-member", call("DELETE", "/hsm/v2/groups/compute/members/x1000c0s0b0n0"), 404);
  const byTag = await rec("groups by tag", call("GET", "/hsm/v2/groups?tag=hpc"), 200);
  expect(byTag.json.items[0].spec.members).toEqual(["x1000c0s0b0n1"]);

  // --- partitions are exclusive
  await rec(
    "partition create",
    call("POST", "/hsm/v2/partitions", { body: { name: "p1", members: ["x1000c0s0b0n0"] } }),
    201,
  );
  const taken = await rec(
    "partition second with same member",
    call("POST", "/hsm/v2/partitions", { body: { name: "p2", members: ["x1000c0s0b0n0"] } }),
    409,
  );
  expect(taken.json.errors[0].message).toContain("p1");
  await rec("partition p2 empty", call("POST", "/hsm/v2/partitions", { body: { name: "p2" } }), 201);
  await rec(
    "partition add taken member",
    call("POST", "/hsm/v2/partitions/p2/members", { body: { ids: ["x1000c0s0b0n0"] } }),
    409,
  );
  await rec(
    "partition add free member",
    call("POST", "/hsm/v2/partitions/p2/members", { body: { ids: ["x1000c0s0b0n1"] } }),
    200,
  );
  await rec("partition get p1 unchanged", call("GET", "/hsm/v2/partitions/p1"), 200);

  // --- bulk import: all or nothing
  const bad = await rec(
    "import with a taken MAC",
    call("POST", "/hsm/v2/import", {
      body: {
        components: [
          { id: "x2000c0s0b0n0", interfaces: [{ macAddress: "aabbcc100001" }] },
          { id: "x2000c0s0b0n1", interfaces: [{ macAddress: "aabbcc100002" }] },
          { id: "x2000c0s0b0n2", interfaces: [{ macAddress: "aa:bb:cc:00:00:01" }] },
        ],
      },
    }),
    409,
  );
  expect(fieldsOf(bad)).toEqual(["components[2].interfaces[0].macAddress"]);
  await rec("import rolled back", call("GET", `${C}/x2000c0s0b0n0`), 404);
  const invalid = await rec(
    "import with invalid items",
    call("POST", "/hsm/v2/import", {
      body: { components: [{ id: "x2000c0s0b0n0" }, { id: "bad id" }, { id: "x", type: "Toaster" }] },
    }),
    422,
  );
  expect(fieldsOf(invalid)).toEqual(
    expect.arrayContaining(["components[1].id", "components[2].id", "components[2].type"]),
  );
  const ok = await rec(
    "import, child before its parent",
    call("POST", "/hsm/v2/import", {
      body: {
        components: [
          {
            id: "x2000c0s0b0n0",
            parentId: "x2000c0s0b0",
            nid: 10,
            interfaces: [{ macAddress: "aabbcc100001" }],
          },
          { id: "x2000c0s0b0" },
          {
            id: "x2000c0s0b0n1",
            parentId: "x2000c0s0b0",
            nid: 11,
            interfaces: [{ macAddress: "aabbcc100002" }],
          },
        ],
      },
    }),
    201,
  );
  expect(ok.json.created).toEqual({ components: 3, interfaces: 2 });
  expect((await rec("total after import", call("GET", `${C}?limit=1`), 200)).json.metadata.total).toBe(7);

  // --- bad input changes nothing
  const before = await rec("read before bad input", call("GET", `${C}/x1000c0s0b0n0`), 200);
  const mal = await rec("malformed JSON", call("POST", C, { body: '{"id": "x3000c0", ' }), 400);
  expect(mal.json.type).toMatch(/malformed-json$/);
  const unk = await rec("unknown field", call("POST", C, { body: { id: "x3000c0", colour: "blue" } }), 400);
  expect(fieldsOf(unk)).toEqual(["colour"]);
  const wrongType = await rec(
    "wrong JSON type",
    call("POST", C, { body: { id: "x3000c0", nid: "seven" } }),
    400,
  );
  expect(fieldsOf(wrongType)).toEqual(["nid"]);
  const badId = await rec("invalid id", call("POST", C, { body: { id: "-x3000c0", type: "Chassis" } }), 422);
  expect(fieldsOf(badId)).toEqual(["id"]);
  const badEnum = await rec(
    "unknown enum",
    call("POST", C, { body: { id: "x3000c0", state: "Melting" } }),
    422,
  );
  expect(fieldsOf(badEnum)).toEqual(["state"]);
  await rec(
    "too large",
    call("POST", C, { body: { id: "x3000c0", description: "x".repeat(1_100_000) } }),
    413,
  );
  await rec(
    "wrong content type",
    call("POST", C, { body: "id=x3000c0", headers: { "Content-Type": "text/plain" } }),
    415,
  );
  await rec(
    "bad patch on existing",
    call("PATCH", `${C}/x1000c0s0b0n0`, { body: { state: "Melting" } }),
    422,
  );
  await rec(
    "bad put on existing",
    call("PUT", `${C}/x1000c0s0b0n0`, { body: { bogus: 1 }, headers: { "If-Match": "*" } }),
    400,
  );
  const after = await rec("read after bad input", call("GET", `${C}/x1000c0s0b0n0`), 200);
  expect(after.json).toEqual(before.json);
  await rec("nothing was created", call("GET", `${C}/x3000c0`), 404);

  // --- delete
  const parent = await rec("delete a parent", call("DELETE", `${C}/x1000c0s0b0`), 409);
  expect(parent.json.detail).toContain("x1000c0s0b0n0");
  await rec("delete node", call("DELETE", `${C}/x1000c0s0b0n1`), 204);
  await rec("deleted is gone", call("GET", `${C}/x1000c0s0b0n1`), 404);
  await rec("delete again", call("DELETE", `${C}/x1000c0s0b0n1`), 404);
  const cascaded = await rec("its interfaces went too", call("GET", `${I}?componentId=x1000c0s0b0n1`), 200);
  expect(cascaded.json.metadata.total).toBe(0);
  const g = await rec("and its memberships", call("GET", "/hsm/v2/groups/compute"), 200);
  expect(g.json.spec.members).toEqual([]);
  await rec("delete group", call("DELETE", "/hsm/v2/groups/compute"), 204);

  // --- routing
  await rec("unknown route", call("GET", "/hsm/v2/nope"), 404);
  const doc = await rec("openapi", call("GET", "/api/openapi.json"), 200);
  expect(doc.json.openapi).toBe("3.1.0");
  transcript[transcript.length - 1]!.body = "<openapi document>";
  return transcript;
}
