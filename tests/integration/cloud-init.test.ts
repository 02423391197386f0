/**
 * cloud-init over HTTP on Node (embedded PGlite) and on the wrangler-built
 * Worker in workerd (real Postgres): payload CRUD with its rules and change
 * events, NoCloud serving with byte-identical documents on both runtimes,
 * served user-data checked by cloud-init's own `cloud-init schema` (and
 * re-read by PyYAML), and caller identification by source address through a
 * trusted proxy — refused from an untrusted peer.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gt, like } from "drizzle-orm";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openDatabase } from "../../control/db/node";
import { outbox } from "../../control/db/schema";
import { cloudConfigOf, kindOf } from "../../functions/cloud-init/documents";
import { type Answer, type Call, nodePgliteTarget, type Target, workerTarget } from "../support/targets";

const C = "/hsm/v2/State/Components";
const G = "/hsm/v2/groups";
const P = "/cloud-init/payloads";
/** Both targets believe X-Forwarded-For from the test process (the peer on Node; CF-Connecting-IP in workerd). */
const TRUSTED = { CHAMICORE_TRUSTED_PROXIES: "127.0.0.1/32" };
/** What the Worker takes as the peer; Node ignores it and sees 127.0.0.1 on the socket. */
const PEER = { "CF-Connecting-IP": "127.0.0.1" };

const N0 = "x1000c0s0b0n0";
const N1 = "x1000c0s0b0n1";

const ROLE_COMPUTE = `#cloud-config
package_update: true
packages: [chrony, munge, slurm-client]
ntp:
  enabled: true
  servers: [10.0.0.2, 10.0.0.3]
timezone: UTC
users:
  - default
  - name: ops
    groups: [wheel]
    shell: /bin/bash
    sudo: "ALL=(ALL) NOPASSWD:ALL"
    ssh_authorized_keys:
      - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGw3rSgNnSBpJtU3Pz0R ops@site
write_files:
  - path: /etc/munge/munge.key
    encoding: b64
    content: bXVuZ2Uta2V5LW5vdC1yZWFsbHk=
    owner: munge:munge
    permissions: '0400'
runcmd:
  - [systemctl, enable, --now, munge]
  - [systemctl, restart, slurmd]
`;
const GROUP_GPU = `#cloud-config
packages:
  - nvidia-driver
  - cuda-toolkit
write_files:
  - path: /etc/modprobe.d/nouveau.conf
    content: |
      blacklist nouveau
      options nouveau modeset=0
    permissions: '0644'
runcmd:
  - [systemctl, enable, --now, nvidia-persistenced]
`;
const GROUP_RACK = `#cloud-config
ntp:
  servers: [10.1.0.2]
timezone: Europe/Zurich
bootcmd:
  - [sh, -c, 'echo rack x1000 > /etc/rack']
`;
const OWN_N0 = `#cloud-config
# local scratch disk
disk_setup:
  /dev/nvme0n1:
    table_type: gpt
    layout: true
    overwrite: false
fs_setup:
  - label: scratch
    filesystem: xfs
    device: /dev/nvme0n1
    partition: auto
mounts:
  - [LABEL=scratch, /scratch, xfs, "defaults,nofail", "0", "2"]
runcmd:
  - [systemctl, restart, slurmd]
`;
const VENDOR = "#cloud-config\nchpasswd:\n  expire: false\nssh_pwauth: false\n";
const SECRET_N1 =
  "#cloud-config\nwrite_files:\n  - path: /etc/slurm/token\n    content: s3cr3t-token\n    permissions: '0600'\n";

interface Step {
  step: string;
  status: number;
  body: unknown;
}

const VOLATILE = new Set(["etag", "createdAt", "updatedAt", "requestId"]);
const GENERATED = /\bpayload-[0-9a-f]{16}\b/g;
function normalize(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(normalize);
  if (v && typeof v === "object")
    return Object.fromEntries(
      Object.entries(v).map(([k, x]) => [k, VOLATILE.has(k) ? `<${k}>` : normalize(x)]),
    );
  return typeof v === "string" ? v.replace(GENERATED, "payload-<generated>") : v;
}

interface ScriptResult {
  steps: Step[];
  /** Served documents by path: content type and exact body. */
  served: Map<string, { contentType: string | null; body: string }>;
  ids: Record<string, string>;
}

/** The same sequence on every target; statuses are asserted as it goes. */
async function runScript(call: Call): Promise<ScriptResult> {
  const steps: Step[] = [];
  const served = new Map<string, { contentType: string | null; body: string }>();
  const rec = async (step: string, p: Promise<Answer>, status: number) => {
    const a = await p;
    steps.push({ step, status: a.status, body: normalize(a.json ?? (a.text || null)) });
    expect(a.status, `${step}: ${a.text.slice(0, 400)}`).toBe(status);
    if (status >= 400) {
      expect(a.headers.get("content-type"), step).toMatch(/^application\/problem\+json/);
      expect(a.json.status, step).toBe(status);
    }
    return a;
  };
  const fields = (a: Answer) => (a.json.errors ?? []).map((e: { field: string }) => e.field);
  const serve = async (path: string, status = 200, headers: Record<string, string> = {}) => {
    const a = await rec(
      `GET ${path}`,
      call("GET", path, { token: null, headers: { ...PEER, ...headers } }),
      status,
    );
    if (status === 200) served.set(path, { contentType: a.headers.get("content-type"), body: a.text });
    return a;
  };

  // --- inventory the payloads refer to
  const iface = (mac: string, ip: string) => [
    { macAddress: mac, ipAddresses: [{ ipAddress: ip, network: "mgmt" }] },
  ];
  await rec(
    "node n0",
    call("POST", C, {
      body: { id: N0, role: "Compute", nid: 1, interfaces: iface("a4:bf:01:00:00:01", "10.1.0.17") },
    }),
    201,
  );
  await rec(
    "node n1",
    call("POST", C, {
      body: { id: N1, role: "Compute", nid: 2, interfaces: iface("a4:bf:01:00:00:02", "10.1.0.18") },
    }),
    201,
  );
  await rec(
    "node called payloads",
    call("POST", C, {
      body: { id: "payloads", type: "Node", interfaces: iface("a4:bf:01:00:00:03", "10.1.0.19") },
    }),
    201,
  );
  await rec("node called user-data", call("POST", C, { body: { id: "user-data", type: "Node" } }), 201);
  await rec("group gpu", call("POST", G, { body: { name: "gpu", members: [N0] } }), 201);
  await rec("group rack", call("POST", G, { body: { name: "rack-x1000", members: [N0, N1] } }), 201);

  // --- payload CRUD
  const role = await rec(
    "create role payload",
    call("POST", P, {
      body: {
        role: "Compute",
        userData: ROLE_COMPUTE,
        vendorData: VENDOR,
        metaData: { site: { name: "zrh", building: "B1" } },
      },
    }),
    201,
  );
  expect(role.json).toMatchObject({ kind: "Payload", apiVersion: "cloud-init/v1" });
  expect(role.json.spec).toMatchObject({
    componentId: null,
    group: null,
    role: "Compute",
    bindToAddress: false,
  });
  expect(role.json.metadata.id).toMatch(/^payload-[0-9a-f]{16}$/);
  expect(role.headers.get("location")).toBe(`${P}/${role.json.metadata.id}`);
  expect(role.headers.get("etag")).toBe(`"${role.json.metadata.etag}"`);
  const roleId: string = role.json.metadata.id;

  await rec(
    "create gpu payload",
    call("POST", P, { body: { id: "gpu", group: "gpu", userData: GROUP_GPU } }),
    201,
  );
  await rec(
    "create rack payload",
    call("POST", P, {
      body: {
        id: "rack",
        group: "rack-x1000",
        userData: GROUP_RACK,
        metaData: { rack: "x1000", site: { building: "B2" } },
      },
    }),
    201,
  );
  await rec(
    "create n0 payload",
    call("POST", P, {
      body: { id: "n0", componentId: N0, userData: OWN_N0, metaData: { "local-hostname": "cn0001" } },
    }),
    201,
  );
  await rec(
    "create bound n1 payload",
    call("POST", P, { body: { id: "n1", componentId: N1, userData: SECRET_N1, bindToAddress: true } }),
    201,
  );
  await rec(
    "create payload for component payloads",
    call("POST", P, {
      body: { id: "for-payloads", componentId: "payloads", userData: "#cloud-config\nhostname: payloads\n" },
    }),
    201,
  );

  // refused writes
  let a = await rec("duplicate role target", call("POST", P, { body: { role: "Compute" } }), 409);
  expect(fields(a)).toEqual(["role"]);
  a = await rec("duplicate component target", call("POST", P, { body: { componentId: N0 } }), 409);
  expect(fields(a)).toEqual(["componentId"]);
  a = await rec("duplicate id", call("POST", P, { body: { id: "gpu", role: "Storage" } }), 409);
  expect(fields(a)).toEqual(["id"]);
  a = await rec("no target", call("POST", P, { body: { userData: "#cloud-config\n{}\n" } }), 422);
  expect(fields(a)).toEqual(["componentId"]);
  a = await rec("two targets", call("POST", P, { body: { componentId: N1, group: "gpu" } }), 422);
  expect(fields(a)).toEqual(["group"]);
  a = await rec("missing component", call("POST", P, { body: { componentId: "x9999c0s0b0n0" } }), 422);
  expect(fields(a)).toEqual(["componentId"]);
  a = await rec("missing group", call("POST", P, { body: { group: "nope" } }), 422);
  expect(fields(a)).toEqual(["group"]);
  a = await rec("unknown role", call("POST", P, { body: { role: "Wizard" } }), 422);
  expect(fields(a)).toEqual(["role"]);
  a = await rec(
    "user-data YAML error",
    call("POST", P, { body: { role: "Storage", userData: "#cloud-config\npackages: [vim\nruncmd: []\n" } }),
    422,
  );
  expect(fields(a)).toEqual(["userData"]);
  expect(a.json.errors[0].message).toMatch(/^is not valid YAML: line \d+, column \d+: /);
  a = await rec(
    "user-data duplicate key",
    call("POST", P, { body: { role: "Storage", userData: "#cloud-config\na: 1\na: 2\n" } }),
    422,
  );
  expect(a.json.errors).toEqual([
    { field: "userData", message: "is not valid YAML: line 3, column 1: Map keys must be unique" },
  ]);
  a = await rec(
    "user-data not a mapping",
    call("POST", P, { body: { role: "Storage", userData: "#cloud-config\n- vim\n" } }),
    422,
  );
  expect(fields(a)).toEqual(["userData"]);
  a = await rec(
    "vendor-data without header",
    call("POST", P, { body: { role: "Storage", vendorData: "packages: [vim]\n" } }),
    422,
  );
  expect(fields(a)).toEqual(["vendorData"]);
  a = await rec("reserved payload id", call("POST", P, { body: { id: "meta-data", role: "Storage" } }), 422);
  expect(fields(a)).toEqual(["id"]);
  a = await rec(
    "reserved meta-data key",
    call("POST", P, { body: { role: "Storage", metaData: { chamicore: 1 } } }),
    422,
  );
  expect(fields(a)).toEqual(["metaData.chamicore"]);

  // reads, filters, conditional requests
  a = await rec("list all", call("GET", P), 200);
  expect(a.json.metadata.total).toBe(6);
  a = await rec("list by role", call("GET", `${P}?role=Compute`), 200);
  expect(a.json.items.map((i: { metadata: { id: string } }) => i.metadata.id)).toEqual([roleId]);
  a = await rec("list by group", call("GET", `${P}?group=gpu,rack-x1000&sort=-id`), 200);
  expect(a.json.items.map((i: { metadata: { id: string } }) => i.metadata.id)).toEqual(["rack", "gpu"]);
  a = await rec("list by component", call("GET", `${P}?componentId=${N0}&fields=id,userData`), 200);
  expect(a.json.items[0].spec).toEqual({ id: "n0", userData: OWN_N0 });
  await rec("list bad role filter", call("GET", `${P}?role=Wizard`), 400);
  const listTag = (await call("GET", P)).headers.get("etag")!;
  await rec("list not modified", call("GET", P, { headers: { "If-None-Match": listTag } }), 304);
  const gpu = await rec("get gpu", call("GET", `${P}/gpu`), 200);
  await rec(
    "get not modified",
    call("GET", `${P}/gpu`, { headers: { "If-None-Match": gpu.headers.get("etag")! } }),
    304,
  );
  await rec("get missing", call("GET", `${P}/nope`), 404);

  // replace, patch, delete
  const replaced = { group: "gpu", userData: GROUP_GPU, metaData: { accel: "a100" } };
  await rec("replace without If-Match", call("PUT", `${P}/gpu`, { body: replaced }), 428);
  await rec(
    "replace stale",
    call("PUT", `${P}/gpu`, { body: replaced, headers: { "If-Match": '"stale"' } }),
    412,
  );
  a = await rec(
    "replace",
    call("PUT", `${P}/gpu`, { body: replaced, headers: { "If-Match": gpu.headers.get("etag")! } }),
    200,
  );
  expect(a.json.spec.metaData).toEqual({ accel: "a100" });
  a = await rec(
    "replace with another id",
    call("PUT", `${P}/gpu`, { body: { ...replaced, id: "other" }, headers: { "If-Match": "*" } }),
    422,
  );
  a = await rec(
    "patch metaData key by key",
    call("PATCH", `${P}/rack`, {
      body: { metaData: { site: { floor: 2 }, rack: null } },
      headers: { "Content-Type": "application/merge-patch+json" },
    }),
    200,
  );
  expect(a.json.spec.metaData).toEqual({ site: { building: "B2", floor: 2 } });
  a = await rec("patch to a second target", call("PATCH", `${P}/rack`, { body: { role: "Storage" } }), 422);
  expect(fields(a)).toEqual(["role"]);
  a = await rec("patch user-data to a script", call("PATCH", `${P}/rack`, { body: { userData: "#!" } }), 200);
  expect(a.json.spec.userData).toBe("#!");
  a = await rec("patch back", call("PATCH", `${P}/rack`, { body: { userData: GROUP_RACK } }), 200);
  a = await rec(
    "patch stale",
    call("PATCH", `${P}/rack`, { body: { bindToAddress: true }, headers: { "If-Match": '"stale"' } }),
    412,
  );
  await rec(
    "create storage payload",
    call("POST", P, { body: { id: "storage", role: "Storage", userData: "#!/bin/sh\ntrue\n" } }),
    201,
  );
  a = await rec(
    "move storage payload to n1?",
    call("PATCH", `${P}/storage`, { body: { role: null, componentId: N1 } }),
    409,
  );
  expect(fields(a)).toEqual(["componentId"]);
  await rec("delete storage payload", call("DELETE", `${P}/storage`), 204);
  await rec("delete it again", call("DELETE", `${P}/storage`), 404);
  await rec("payloads need a token", call("GET", P, { token: null }), 401);

  // --- serving by id
  for (const doc of ["user-data", "meta-data", "vendor-data"]) {
    await serve(`/cloud-init/${N0}/${doc}`);
    await serve(`/cloud-init/payloads/${doc}`);
    await serve(`/cloud-init/user-data/${doc}`);
  }
  expect(served.get(`/cloud-init/${N0}/user-data`)!.contentType).toBe("text/cloud-config; charset=utf-8");
  expect(served.get(`/cloud-init/${N0}/meta-data`)!.contentType).toBe("application/json");
  expect(served.get("/cloud-init/payloads/user-data")!.body).toBe("#cloud-config\nhostname: payloads\n");
  expect(served.get("/cloud-init/user-data/user-data")!.body).toBe("#cloud-config\n{}\n");
  const md = JSON.parse(served.get(`/cloud-init/${N0}/meta-data`)!.body);
  expect(md).toMatchObject({
    "instance-id": `iid-${N0}`,
    "local-hostname": "cn0001",
    accel: "a100",
    site: { name: "zrh", building: "B2", floor: 2 },
    chamicore: { id: N0, nid: 1, role: "Compute", groups: ["gpu", "rack-x1000"] },
  });
  await serve("/cloud-init/x9999c0s0b0n0/user-data", 404);

  // --- serving the caller: by X-Forwarded-For from the trusted test process, and by ?mac=
  a = await serve("/cloud-init/meta-data", 200, { "X-Forwarded-For": "10.1.0.17" });
  expect(JSON.parse(a.text).chamicore.id).toBe(N0);
  a = await serve("/cloud-init/user-data?mac=A4-BF-01-00-00-01", 200, { "X-Forwarded-For": "10.1.0.17" });
  expect(a.text).toBe(served.get(`/cloud-init/${N0}/user-data`)!.body);
  await serve("/cloud-init/user-data", 404, { "X-Forwarded-For": "10.99.0.1" });

  // --- bindToAddress: n1's user-data only to n1's address, by whatever path
  a = await serve(`/cloud-init/${N1}/user-data`, 200, { "X-Forwarded-For": "10.1.0.18" });
  expect(a.text).toMatch(/s3cr3t-token/);
  await serve("/cloud-init/user-data", 200, { "X-Forwarded-For": "10.1.0.18" });
  for (const [path, xff] of [
    [`/cloud-init/${N1}/user-data`, "10.1.0.17"],
    [`/cloud-init/${N1}/user-data`, undefined],
    ["/cloud-init/user-data?mac=a4:bf:01:00:00:02", "10.1.0.17"],
  ] as const) {
    a = await serve(path, 403, xff ? { "X-Forwarded-For": xff } : {});
    expect(a.text).not.toMatch(/s3cr3t/);
  }
  await serve(`/cloud-init/${N1}/meta-data`, 200);

  return { steps, served, ids: { role: roleId } };
}

// ---------- the script on both runtimes ----------

const results = new Map<string, ScriptResult>();
const started: Target[] = [];
afterAll(async () => {
  await Promise.all(started.map((t) => t.stop()));
});

let worker: Target;

describe.sequential("cloud-init over HTTP", () => {
  for (const [name, start] of [
    ["node+pglite", () => nodePgliteTarget(TRUSTED)],
    ["workerd+postgres", () => workerTarget(TRUSTED)],
  ] as const) {
    it(`passes on ${name}`, async () => {
      const t = await start();
      started.push(t);
      if (name === "workerd+postgres") worker = t;
      results.set(name, await runScript(t.call));
    });
  }

  it("gives the same statuses and bodies, and byte-identical served documents, on both runtimes", () => {
    const [node, work] = [results.get("node+pglite")!, results.get("workerd+postgres")!];
    expect(node && work).toBeTruthy();
    expect(work.steps).toEqual(node.steps);
    expect([...work.served.keys()]).toEqual([...node.served.keys()]);
    for (const [path, doc] of node.served) expect(work.served.get(path), path).toEqual(doc);
  });
});

// ---------- what cloud-init itself makes of the served documents ----------

/** The cloud-init binary, or why there is none. */
function cloudInitVersion(): string | undefined {
  try {
    return execFileSync("cloud-init", ["--version"], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    }).trim();
  } catch {
    return undefined;
  }
}
const cloudInit = cloudInitVersion();
if (!cloudInit && process.env.CI)
  throw new Error(
    "cloud-init is not installed (apt-get install -y cloud-init): CI must run the cloud-init schema check",
  );

describe.skipIf(!cloudInit)(
  `served documents pass cloud-init's own checks${cloudInit ? ` (${cloudInit})` : " — SKIPPED: cloud-init is not installed here (apt-get install -y cloud-init)"}`,
  () => {
    let dir: string;
    beforeAll(() => {
      dir = mkdtempSync(join(tmpdir(), "chamicore-cloud-config-"));
    });
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    /** Every served #cloud-config document (user-data and vendor-data), by path. */
    const cloudConfigs = () => {
      const served = results.get("node+pglite")?.served;
      expect(served, "the HTTP script must have run first").toBeDefined();
      const docs = [...served!].filter(
        ([path, d]) => !path.includes("meta-data") && kindOf(d.body) === "cloud-config",
      );
      expect(docs.length).toBeGreaterThanOrEqual(8);
      return docs;
    };

    it("every served #cloud-config passes `cloud-init schema --config-file`", () => {
      for (const [path, doc] of cloudConfigs()) {
        const file = join(dir, `${path.replaceAll("/", "_")}.yaml`);
        writeFileSync(file, doc.body);
        let out: string;
        try {
          out = execFileSync("cloud-init", ["schema", "--config-file", file], {
            encoding: "utf8",
            stdio: "pipe",
          });
        } catch (e) {
          const err = e as { stdout?: string; stderr?: string };
          throw new Error(`${path} fails cloud-init schema:\n${err.stdout}${err.stderr}\n---\n${doc.body}`);
        }
        expect(out, path).toMatch(/^Valid cloud-config/);
      }
    });

    it("PyYAML (cloud-init's parser) reads every served #cloud-config as the data we merged", () => {
      for (const [path, doc] of cloudConfigs()) {
        const file = join(dir, `${path.replaceAll("/", "_")}.py.yaml`);
        writeFileSync(file, doc.body);
        const py = execFileSync(
          "/usr/bin/python3",
          ["-c", "import json,sys,yaml; print(json.dumps(yaml.safe_load(open(sys.argv[1]))))", file],
          { encoding: "utf8" },
        );
        expect(JSON.parse(py), path).toEqual(cloudConfigOf(doc.body));
      }
    });

    it("cloud-init schema would have caught a bad document, so the checks above are not vacuous", () => {
      const file = join(dir, "bad.yaml");
      writeFileSync(file, "#cloud-config\npackages: 3\n");
      expect(() =>
        execFileSync("cloud-init", ["schema", "--config-file", file], { stdio: "pipe" }),
      ).toThrow();
    });
  },
);

// ---------- change events in the outbox (workerd target, real Postgres) ----------

describe("payload mutations write change events in their transaction", () => {
  it("create, update and delete write exactly one event each; refused writes none", async () => {
    expect(worker?.databaseUrl, "the workerd target must have run").toBeDefined();
    const db = await openDatabase({ databaseUrl: worker.databaseUrl, dataDir: "/nonexistent" });
    try {
      const head = async () => {
        const rows = await db.db.select({ p: outbox.position }).from(outbox);
        return rows.reduce((m, r) => Math.max(m, Number(r.p)), 0);
      };
      const since = (pos: number) =>
        db.db.select().from(outbox).where(gt(outbox.position, pos)).orderBy(outbox.position);
      const call = worker.call;

      let pos = await head();
      const created = await call("POST", P, {
        body: { id: "evt", componentId: "user-data", userData: "#cloud-config\na: 1\n" },
      });
      expect(created.status).toBe(201);
      let events = await since(pos);
      expect(events.map((e) => [e.type, e.subject])).toEqual([
        ["chamicore.cloudinit.payloads.created", "evt"],
      ]);
      expect(events[0]!.data).toEqual(created.json);

      pos = await head();
      const patched = await call("PATCH", `${P}/evt`, { body: { bindToAddress: true } });
      expect(patched.status).toBe(200);
      events = await since(pos);
      expect(events.map((e) => [e.type, e.subject])).toEqual([
        ["chamicore.cloudinit.payloads.updated", "evt"],
      ]);
      expect(events[0]!.data).toEqual(patched.json);

      pos = await head();
      const put = await call("PUT", `${P}/evt`, {
        body: { componentId: "user-data", userData: "#cloud-config\na: 2\n" },
        headers: { "If-Match": patched.headers.get("etag")! },
      });
      expect(put.status).toBe(200);
      events = await since(pos);
      expect(events.map((e) => [e.type, e.subject])).toEqual([
        ["chamicore.cloudinit.payloads.updated", "evt"],
      ]);
      expect(events[0]!.data).toEqual(put.json);

      pos = await head();
      for (const [status, p] of [
        [409, call("POST", P, { body: { componentId: "user-data" } })],
        [422, call("POST", P, { body: { role: "Storage", userData: "#cloud-config\n- x\n" } })],
        [422, call("PATCH", `${P}/evt`, { body: { group: "gpu" } })],
        [
          412,
          call("PUT", `${P}/evt`, { body: { componentId: "user-data" }, headers: { "If-Match": '"stale"' } }),
        ],
        [404, call("DELETE", `${P}/nope`)],
      ] as const)
        expect((await p).status).toBe(status);
      expect(await since(pos)).toEqual([]);

      const deleted = await call("DELETE", `${P}/evt`);
      expect(deleted.status).toBe(204);
      events = await since(pos);
      expect(events.map((e) => [e.type, e.subject, e.data])).toEqual([
        ["chamicore.cloudinit.payloads.deleted", "evt", { id: "evt" }],
      ]);

      // Every payload write of the HTTP script left its event too: 7 created, one deleted, the rest updates.
      const all = await db.db.select().from(outbox).where(like(outbox.type, "chamicore.cloudinit.%"));
      expect(all.filter((e) => e.type.endsWith(".created")).length).toBe(8);
      expect(all.filter((e) => e.type.endsWith(".deleted")).length).toBe(2);
    } finally {
      await db.close();
    }
  });
});

// ---------- caller identification by source address on Node ----------

describe("caller identification by source address (Node; the peer is 127.0.0.1)", () => {
  /** Two nodes: one at the loopback address the test connects from, one that a forwarded header names. */
  async function setUp(t: Target) {
    const mk = (id: string, mac: string, ip: string) =>
      t.call("POST", C, {
        body: { id, type: "Node", interfaces: [{ macAddress: mac, ipAddresses: [{ ipAddress: ip }] }] },
      });
    expect((await mk("loopback-node", "02:00:00:00:00:01", "127.0.0.1")).status).toBe(201);
    expect((await mk("far-node", "02:00:00:00:00:02", "10.77.0.5")).status).toBe(201);
    expect(
      (
        await t.call("POST", P, {
          body: { componentId: "far-node", userData: "#cloud-config\nhostname: far\n", bindToAddress: true },
        })
      ).status,
    ).toBe(201);
  }
  const asCaller = (t: Target, path: string, xff?: string) =>
    t.call("GET", path, { token: null, headers: xff ? { "X-Forwarded-For": xff } : {} });

  it("honours X-Forwarded-For from a trusted proxy (CHAMICORE_TRUSTED_PROXIES=127.0.0.1/32)", async () => {
    const t = await nodePgliteTarget(TRUSTED);
    started.push(t);
    await setUp(t);
    const md = await asCaller(t, "/cloud-init/meta-data", "10.77.0.5");
    expect(md.status).toBe(200);
    expect(md.json.chamicore.id).toBe("far-node");
    // A spoofing client in front of the proxy: the right-most untrusted hop counts.
    expect((await asCaller(t, "/cloud-init/meta-data", "127.0.0.1, 10.77.0.5")).json.chamicore.id).toBe(
      "far-node",
    );
    const ud = await asCaller(t, "/cloud-init/user-data", "10.77.0.5");
    expect(ud.status).toBe(200);
    expect(ud.text).toBe("#cloud-config\nhostname: far\n");
    expect((await asCaller(t, "/cloud-init/far-node/user-data", "10.77.0.5")).status).toBe(200);
    // Without the header the caller is the proxy itself.
    expect((await asCaller(t, "/cloud-init/meta-data")).json.chamicore.id).toBe("loopback-node");
  });

  it("ignores X-Forwarded-For from an untrusted peer and uses the peer's own address", async () => {
    const t = await nodePgliteTarget({ CHAMICORE_TRUSTED_PROXIES: "192.0.2.0/24" });
    started.push(t);
    await setUp(t);
    const md = await asCaller(t, "/cloud-init/meta-data", "10.77.0.5");
    expect(md.status).toBe(200);
    expect(md.json.chamicore.id).toBe("loopback-node");
    // The bound payload does not leak to the spoofer, by any path.
    for (const path of ["/cloud-init/far-node/user-data", "/cloud-init/user-data?mac=02:00:00:00:00:02"]) {
      const a = await asCaller(t, path, "10.77.0.5");
      expect(a.status, path).toBe(403);
      expect(a.text, path).not.toMatch(/hostname: far/);
    }
  });
});
