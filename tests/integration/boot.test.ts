/**
 * Boot parameters and boot scripts over HTTP, on Node + embedded PGlite and
 * on the wrangler-built Worker in workerd + Postgres: CRUD with envelopes,
 * ETags, If-Match, merge patch, filters and every refusal; the public boot
 * script for MAC, name and nid lookups, the fallbacks, the retry chain and
 * nodes that cannot boot. Every script passes the iPXE checker, and the
 * scripts are byte-identical on both runtimes. On Postgres the outbox is
 * read after every write: one event per change, none for a refused write.
 * A third target runs with CHAMICORE_BOOT_UNKNOWN_MAC=404.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type NodeDatabase, openDatabase } from "../../control/db/node";
import { PgOutbox } from "../../control/stores/outbox";
import { assertValidIpxe } from "../support/ipxe";
import { type Answer, nodePgliteTarget, type Target, workerTarget } from "../support/targets";

const PUBLIC_URL = "http://boot.example:8080";
const P = "/boot/v1/bootparams";
const S = "/boot/v1/bootscript";
const C = "/hsm/v2/State/Components";
const MAC = { compute: "a4:bf:01:38:ee:65", service: "a4:bf:01:38:ee:66", disabled: "a4:bf:01:38:ee:67" };

/** Boot scripts by scenario, per target: they must be identical across targets. */
const scripts = new Map<string, Map<string, string>>();

interface BssEvent {
  type: string;
  subject: string;
  data: unknown;
}

/** Reads bss events from the target's outbox (Postgres targets only). */
class EventWatch {
  private seen = 0;
  constructor(private readonly db: NodeDatabase | undefined) {}
  /** Events written since the last call. */
  async fresh(): Promise<BssEvent[] | undefined> {
    if (!this.db) return undefined;
    const rows = await new PgOutbox(this.db.db).after(0, 100_000);
    const bss = rows.filter((r) => r.type.startsWith("chamicore.bss."));
    const out = bss.slice(this.seen).map((r) => ({ type: r.type, subject: r.subject, data: r.data }));
    this.seen = bss.length;
    return out;
  }
}

function suite(name: string, start: () => Promise<Target>) {
  describe.sequential(`boot on ${name}`, () => {
    let t: Target;
    let db: NodeDatabase | undefined;
    let events: EventWatch;
    const mine = new Map<string, string>();
    scripts.set(name, mine);

    beforeAll(async () => {
      t = await start();
      if (t.databaseUrl) db = await openDatabase({ databaseUrl: t.databaseUrl, dataDir: "/nonexistent" });
      events = new EventWatch(db);
    });
    afterAll(async () => {
      await db?.close();
      await t?.stop();
    });

    const expectStatus = (a: Answer, status: number) => {
      expect(a.status, a.text.slice(0, 600)).toBe(status);
      if (status >= 400) expect(a.headers.get("content-type")).toMatch(/^application\/problem\+json/);
      return a;
    };
    const fieldsOf = (a: Answer) => (a.json?.errors ?? []).map((e: { field: string }) => e.field).sort();
    /** Exactly these bss events since the last check (skipped without database access). */
    const expectEvents = async (wanted: { action: string; subject: string; data?: unknown }[]) => {
      const got = await events.fresh();
      if (!got) return;
      expect(got.map((e) => `${e.type} ${e.subject}`)).toEqual(
        wanted.map((w) => `chamicore.bss.bootparams.${w.action} ${w.subject}`),
      );
      wanted.forEach((w, i) => {
        if (w.data !== undefined) expect(got[i]!.data).toEqual(w.data);
      });
    };
    /** Fetches a boot script without a token, checks it, records it for the cross-runtime comparison. */
    const script = async (scenario: string, query: string) => {
      const a = await t.call("GET", `${S}?${query}`, { token: null });
      expectStatus(a, 200);
      expect(a.headers.get("content-type")).toBe("text/plain; charset=utf-8");
      assertValidIpxe(a.text, { requireFallbacks: true });
      mine.set(scenario, a.text);
      return a.text;
    };

    it("has an inventory to boot", async () => {
      const node = (id: string, nid: number, role: string, mac: string, enabled = true) =>
        t.call("POST", C, {
          body: { id, nid, role, enabled, state: "Ready", interfaces: [{ macAddress: mac }] },
        });
      expectStatus(await node("x1000c0s0b0n0", 1, "Compute", MAC.compute), 201);
      expectStatus(await node("x1000c0s0b1n0", 2, "Service", MAC.service), 201);
      expectStatus(await node("x1000c0s0b2n0", 3, "Compute", MAC.disabled, false), 201);
      await events.fresh(); // inventory events are not ours
    });

    it("tells a node with no params anywhere why it waits", async () => {
      const text = await script("no params", `mac=${MAC.compute}`);
      expect(text).toContain(
        "echo Chamicore: cannot boot yet: no boot parameters apply to x1000c0s0b0n0: none for the component, none for its role Compute, and no cluster default",
      );
      expect(text).toContain(
        `chain --replace --autofree ${PUBLIC_URL}${S}?mac=${MAC.compute}&retry=1 || goto unreachable`,
      );
    });

    it("creates params for the default, a role and a component, each with one created event", async () => {
      const created = [
        {
          id: "bp-default",
          isDefault: true,
          kernelUri: "http://images.example/default/vmlinuz",
          initrdUri: "http://images.example/default/initrd.img",
          cmdline: "console=tty0",
        },
        {
          id: "bp-compute",
          role: "Compute",
          kernelUri: "http://images.example/{role}/vmlinuz",
          initrdUri: "http://images.example/{role}/initrd.img",
          cmdline: "console=ttyS0,115200 nid={nid}",
        },
        {
          id: "bp-n0",
          componentId: "x1000c0s0b0n0",
          kernelUri: "http://images.example/nodes/{id}/vmlinuz",
          initrdUri: "",
          cmdline: "quiet mac={mac}",
        },
      ];
      for (const body of created) {
        const a = expectStatus(await t.call("POST", P, { body }), 201);
        expect(a.headers.get("location")).toBe(`${P}/${body.id}`);
        expect(a.headers.get("etag")).toBe(`"${a.json.metadata.etag}"`);
        expect(a.json).toMatchObject({
          kind: "BootParams",
          apiVersion: "boot/v1",
          metadata: { id: body.id },
        });
        expect(a.json.spec).toEqual({
          id: body.id,
          componentId: body.componentId ?? null,
          role: body.role ?? null,
          isDefault: body.isDefault ?? false,
          kernelUri: body.kernelUri,
          initrdUri: body.initrdUri,
          cmdline: body.cmdline,
          kernel: null,
          initrd: null,
        });
        await expectEvents([{ action: "created", subject: body.id, data: a.json }]);
      }
      const generated = expectStatus(
        await t.call("POST", P, { body: { role: "Storage", kernelUri: "http://images.example/vmlinuz" } }),
        201,
      );
      expect(generated.json.spec.id).toMatch(/^bp-[0-9a-f]{8}$/);
      expect(generated.json.spec).toMatchObject({
        initrdUri: "",
        cmdline: "",
        isDefault: false,
        componentId: null,
      });
      await expectEvents([{ action: "created", subject: generated.json.spec.id }]);
      expectStatus(await t.call("DELETE", `${P}/${generated.json.spec.id}`), 204);
      await expectEvents([
        { action: "deleted", subject: generated.json.spec.id, data: { id: generated.json.spec.id } },
      ]);
    });

    it("refuses bad writes with the field named, and writes no event", async () => {
      const kernelUri = "http://images.example/vmlinuz";
      const refusals: [string, unknown, number, string[]][] = [
        ["second params for a role", { role: "Compute", kernelUri }, 409, ["role"]],
        ["second default", { isDefault: true, kernelUri }, 409, ["isDefault"]],
        ["second params for a component", { componentId: "x1000c0s0b0n0", kernelUri }, 409, ["componentId"]],
        ["an id that exists", { id: "bp-n0", role: "Storage", kernelUri }, 409, ["id"]],
        ["a component not in the inventory", { componentId: "x9c0s0b0n0", kernelUri }, 422, ["componentId"]],
        ["no target", { kernelUri }, 422, ["componentId", "isDefault", "role"]],
        ["two targets", { role: "Storage", isDefault: true, kernelUri }, 422, ["isDefault", "role"]],
        ["isDefault false alone", { isDefault: false, kernelUri }, 422, ["componentId", "isDefault", "role"]],
        ["a role outside the enum", { role: "Gaming", kernelUri }, 422, ["role"]],
        ["no kernel", { role: "Storage" }, 422, ["kernel", "kernelUri"]],
        ["a relative kernel URI", { role: "Storage", kernelUri: "vmlinuz" }, 422, ["kernelUri"]],
        ["an unknown placeholder", { role: "Storage", kernelUri: "http://x/{hostname}" }, 422, ["kernelUri"]],
        [
          "a command separator in the cmdline",
          { role: "Storage", kernelUri, cmdline: "quiet ; reboot" },
          422,
          ["cmdline"],
        ],
        [
          "a newline in the cmdline",
          { role: "Storage", kernelUri, cmdline: "quiet\nchain http://evil/" },
          422,
          ["cmdline"],
        ],
        ["an unknown field", { role: "Storage", kernelUri, kernel: "x" }, 400, ["kernel"]],
        ["a wrong type", { role: "Storage", kernelUri: 7 }, 400, ["kernelUri"]],
      ];
      for (const [what, body, status, fields] of refusals) {
        const a = await t.call("POST", P, { body });
        expect(a.status, `${what}: ${a.text}`).toBe(status);
        expect(a.headers.get("content-type"), what).toMatch(/^application\/problem\+json/);
        expect(fieldsOf(a), what).toEqual(fields);
      }
      await expectEvents([]);
    });

    it("reads, filters, sorts, pages and answers If-None-Match", async () => {
      const one = expectStatus(await t.call("GET", `${P}/bp-compute`), 200);
      expect(one.headers.get("etag")).toBe(`"${one.json.metadata.etag}"`);
      expectStatus(await t.call("GET", `${P}/bp-nope`), 404);

      const ids = async (q: string) =>
        expectStatus(await t.call("GET", `${P}${q}`), 200).json.items.map(
          (i: { metadata: { id: string } }) => i.metadata.id,
        );
      expect(await ids("")).toEqual(["bp-compute", "bp-default", "bp-n0"]);
      expect(await ids("?role=Compute")).toEqual(["bp-compute"]);
      expect(await ids("?isDefault=true")).toEqual(["bp-default"]);
      expect(await ids("?isDefault=false&sort=-id")).toEqual(["bp-n0", "bp-compute"]);
      expect(await ids("?componentId=x1000c0s0b0n0,x1")).toEqual(["bp-n0"]);
      expect(await ids("?component_id=x1000c0s0b0n0")).toEqual(["bp-n0"]);
      expect(await ids("?limit=1&offset=1")).toEqual(["bp-default"]);

      const page = expectStatus(await t.call("GET", `${P}?fields=id,role&limit=2`), 200);
      expect(page.json.kind).toBe("BootParamsList");
      expect(page.json.metadata).toEqual({ total: 3, limit: 2, offset: 0 });
      expect(page.json.items[0].spec).toEqual({ id: "bp-compute", role: "Compute" });

      for (const bad of ["?role=Gaming", "?isDefault=maybe", "?sort=kernelUri", "?fields=nope", "?color=red"])
        expectStatus(await t.call("GET", `${P}${bad}`), 400);

      const list = expectStatus(await t.call("GET", P), 200);
      const tag = list.headers.get("etag");
      expect(tag).toBeTruthy();
      expect((await t.call("GET", P, { headers: { "If-None-Match": tag! } })).status).toBe(304);
      expect(
        (await t.call("GET", `${P}/bp-compute`, { headers: { "If-None-Match": one.headers.get("etag")! } }))
          .status,
      ).toBe(304);
    });

    it("needs If-Match to replace, and writes one updated event per change", async () => {
      const current = expectStatus(await t.call("GET", `${P}/bp-default`), 200);
      const body = {
        isDefault: true,
        kernelUri: "http://images.example/default/vmlinuz-2",
        initrdUri: "http://images.example/default/initrd.img",
        cmdline: "console=tty0 quiet",
      };
      expectStatus(await t.call("PUT", `${P}/bp-default`, { body }), 428);
      expectStatus(await t.call("PUT", `${P}/bp-default`, { body, headers: { "If-Match": '"stale"' } }), 412);
      expectStatus(await t.call("PUT", `${P}/bp-nope`, { body, headers: { "If-Match": "*" } }), 404);
      const mismatch = await t.call("PUT", `${P}/bp-default`, {
        body: { ...body, id: "bp-other" },
        headers: { "If-Match": "*" },
      });
      expect(fieldsOf(expectStatus(mismatch, 422))).toEqual(["id"]);
      const taken = await t.call("PUT", `${P}/bp-default`, {
        body: { ...body, isDefault: false, role: "Compute" },
        headers: { "If-Match": current.headers.get("etag")! },
      });
      expect(fieldsOf(expectStatus(taken, 409))).toEqual(["role"]);
      await expectEvents([]);

      const replaced = expectStatus(
        await t.call("PUT", `${P}/bp-default`, {
          body,
          headers: { "If-Match": current.headers.get("etag")! },
        }),
        200,
      );
      expect(replaced.json.spec.kernelUri).toBe(body.kernelUri);
      expect(replaced.json.metadata.etag).not.toBe(current.json.metadata.etag);
      await expectEvents([{ action: "updated", subject: "bp-default", data: replaced.json }]);
    });

    it("merge-patches, keeps one target, and refuses a patch that breaks the rules", async () => {
      const patched = expectStatus(
        await t.call("PATCH", `${P}/bp-compute`, {
          body: { cmdline: "console=ttyS0,115200 nid={nid} -- splash" },
          headers: { "Content-Type": "application/merge-patch+json" },
        }),
        200,
      );
      expect(patched.json.spec).toMatchObject({
        role: "Compute",
        cmdline: "console=ttyS0,115200 nid={nid} -- splash",
      });
      await expectEvents([{ action: "updated", subject: "bp-compute", data: patched.json }]);

      const refusals: [unknown, number, string[], Record<string, string>?][] = [
        [{ role: null }, 422, ["componentId", "isDefault", "role"]],
        [{ isDefault: true }, 422, ["isDefault", "role"]],
        [{ role: null, isDefault: true }, 409, ["isDefault"]],
        [{ kernelUri: null }, 422, ["kernel", "kernelUri"]],
        [{ cmdline: "a && b" }, 422, ["cmdline"]],
        [{ id: "bp-other" }, 422, ["id"]],
        [{ cmdline: "x" }, 412, [], { "If-Match": '"stale"' }],
      ];
      for (const [body, status, fields, headers] of refusals) {
        const a = await t.call("PATCH", `${P}/bp-compute`, { body, headers });
        expect(a.status, `${JSON.stringify(body)}: ${a.text}`).toBe(status);
        expect(fieldsOf(a), JSON.stringify(body)).toEqual(fields);
      }
      expectStatus(await t.call("PATCH", `${P}/bp-nope`, { body: { cmdline: "" } }), 404);
      await expectEvents([]);

      const moved = expectStatus(await t.call("PATCH", `${P}/bp-n0`, { body: { initrdUri: null } }), 200);
      expect(moved.json.spec.initrdUri).toBe("");
      await expectEvents([{ action: "updated", subject: "bp-n0", data: moved.json }]);
    });

    it("serves the component's own params by MAC, name and nid, without a token", async () => {
      const byMac = await script("component by MAC", `mac=${MAC.compute.toUpperCase().replaceAll(":", "-")}`);
      expect(byMac).toContain(
        `kernel --name kernel http://images.example/nodes/x1000c0s0b0n0/vmlinuz quiet mac=${MAC.compute} chamicore.id=x1000c0s0b0n0 chamicore.nid=1 BOOTIF=01-a4-bf-01-38-ee-65 ds=nocloud-net;s=${PUBLIC_URL}/cloud-init/x1000c0s0b0n0/ || goto retry`,
      );
      expect(byMac).not.toMatch(/^initrd/m);
      const byName = await script("component by name", "name=x1000c0s0b0n0");
      expect(byName).toContain(
        `mac=\${netX/mac} chamicore.id=x1000c0s0b0n0 chamicore.nid=1 BOOTIF=01-\${netX/mac:hexhyp}`,
      );
      expect(await script("component by nid", "nid=1")).toBe(
        byName.replaceAll("name=x1000c0s0b0n0", "nid=1"),
      );
    });

    it("falls back to the role's params, then the default", async () => {
      expectStatus(await t.call("DELETE", `${P}/bp-n0`), 204);
      expectStatus(await t.call("DELETE", `${P}/bp-n0`), 404);
      await expectEvents([{ action: "deleted", subject: "bp-n0", data: { id: "bp-n0" } }]);
      const role = await script("role fallback", `mac=${MAC.compute}`);
      expect(role).toContain(
        `kernel --name kernel http://images.example/Compute/vmlinuz initrd=initrd console=ttyS0,115200 nid=1 chamicore.id=x1000c0s0b0n0 chamicore.nid=1 BOOTIF=01-a4-bf-01-38-ee-65 ds=nocloud-net;s=${PUBLIC_URL}/cloud-init/x1000c0s0b0n0/ -- splash || goto retry`,
      );
      expect(role).toContain("initrd --name initrd http://images.example/Compute/initrd.img || goto retry");
      const def = await script("default", `mac=${MAC.service}`);
      expect(def).toContain("boot parameters bp-default (the cluster default)");
      expect(def).toContain(
        "kernel --name kernel http://images.example/default/vmlinuz-2 initrd=initrd console=tty0 quiet chamicore.id=x1000c0s0b1n0 chamicore.nid=2",
      );
    });

    it("chains retries back with retry+1 and gives up at the last", async () => {
      const third = await script("retry 3", `mac=${MAC.compute}&retry=3`);
      expect(third).toContain(`${PUBLIC_URL}${S}?mac=${MAC.compute}&retry=4 || goto unreachable`);
      const last = await script("last retry", `mac=${MAC.compute}&retry=10`);
      expect(last).toContain("failed after 10 retries, rebooting in 60 seconds to start over");
      expect(last).not.toContain("chain");
    });

    it("tells unknown and disabled nodes why they wait (retry mode, the default)", async () => {
      expect(await script("unknown MAC", "mac=02:00:00:00:00:01")).toContain(
        "echo Chamicore: cannot boot yet: no component in the inventory has MAC 02:00:00:00:00:01",
      );
      expect(await script("unknown name", "name=x9c9s9b9n9")).toContain(
        "component x9c9s9b9n9 is not in the inventory",
      );
      expect(await script("unknown nid", "nid=999")).toContain("no component in the inventory has nid 999");
      expect(await script("disabled", `mac=${MAC.disabled}`)).toContain(
        "component x1000c0s0b2n0 is disabled (enabled: false)",
      );
    });

    it("answers 400 problems to a malformed query, even without a token", async () => {
      for (const q of [
        "",
        "?mac=nope",
        `?mac=${MAC.compute}&name=x1`,
        "?nid=-1",
        `?mac=${MAC.compute}&retry=x`,
      ])
        expectStatus(await t.call("GET", `${S}${q}`, { token: null }), 400);
    });

    it("needs a token and the right scope for params", async () => {
      expectStatus(await t.call("GET", P, { token: null }), 401);
      expectStatus(
        await t.call("POST", P, { token: null, body: { isDefault: true, kernelUri: "http://x/v" } }),
        401,
      );
      await expectEvents([]);
    });
  });
}

suite("node+pglite", () => nodePgliteTarget({ CHAMICORE_PUBLIC_URL: PUBLIC_URL }));
suite("workerd+postgres", () => workerTarget({ CHAMICORE_PUBLIC_URL: PUBLIC_URL }));

describe("boot scripts across runtimes", () => {
  it("are byte-identical on node+pglite and workerd+postgres", () => {
    const [a, b] = [scripts.get("node+pglite")!, scripts.get("workerd+postgres")!];
    expect(a.size).toBeGreaterThan(10);
    expect([...b.keys()]).toEqual([...a.keys()]);
    for (const [scenario, text] of a) expect(b.get(scenario), scenario).toBe(text);
  });
});

describe.sequential("boot with CHAMICORE_BOOT_UNKNOWN_MAC=404", () => {
  let t: Target;
  beforeAll(async () => {
    t = await nodePgliteTarget({ CHAMICORE_PUBLIC_URL: PUBLIC_URL, CHAMICORE_BOOT_UNKNOWN_MAC: "404" });
  });
  afterAll(async () => {
    await t?.stop();
  });

  it("answers 404 problems saying why, and boots known nodes as usual", async () => {
    const unknown = await t.call("GET", `${S}?mac=02:00:00:00:00:01`, { token: null });
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    expect(unknown.json.detail).toBe("Cannot boot: no component in the inventory has MAC 02:00:00:00:00:01");

    const comp = { id: "x1c0s0b0n0", role: "Compute", interfaces: [{ macAddress: MAC.compute }] };
    expect((await t.call("POST", C, { body: comp })).status).toBe(201);
    const noParams = await t.call("GET", `${S}?mac=${MAC.compute}`, { token: null });
    expect(noParams.status).toBe(404);
    expect(noParams.json.detail).toMatch(/^Cannot boot: no boot parameters apply to x1c0s0b0n0/);

    const params = { isDefault: true, kernelUri: "http://images.example/vmlinuz" };
    expect((await t.call("POST", P, { body: params })).status).toBe(201);
    const ok = await t.call("GET", `${S}?mac=${MAC.compute}`, { token: null });
    expect(ok.status).toBe(200);
    assertValidIpxe(ok.text, { requireFallbacks: true });
  });
});
