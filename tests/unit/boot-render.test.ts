/**
 * Boot scripts: exact text against golden files (tests/golden/ipxe/*.ipxe;
 * regenerate with UPDATE_GOLDEN=1 and review the diff), the resolution
 * order, the command-line rules, and the public route in both unknown-MAC
 * modes over an in-memory BootReadStore. Every script produced here passes
 * the iPXE checker in strict mode.
 */
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { OpenAPIHono } from "@hono/zod-openapi";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { registerBoot } from "../../functions/boot";
import { parseBootQuery } from "../../functions/boot/bootscript";
import {
  bootScriptUrl,
  echo,
  kernelArgs,
  MAX_RETRIES,
  renderBootScript,
  renderWaitScript,
  retryDelay,
  type ScriptContext,
} from "../../functions/boot/render";
import { type BootDecision, decideBoot, type Lookup } from "../../functions/boot/resolve";
import type { BootParams } from "../../functions/boot/schemas";
import type { BootNode, BootReadStore, ParamsCandidates } from "../../functions/boot/store";
import { checkCmdline, checkUri, substitute } from "../../functions/boot/text";
import type { AppEnv } from "../../functions/env";
import type { Role } from "../../shared/enums";
import { createBaseApp } from "../../shared/http/app";
import { silentLogger } from "../../shared/log";
import { httpMetrics, Registry } from "../../shared/metrics";
import type { ApiError } from "../../shared/problem";
import { assertValidIpxe } from "../support/ipxe";

const GOLDEN = join(import.meta.dirname, "../golden/ipxe");
const BASE = "http://boot.example:8080";
const MAC = "a4:bf:01:38:ee:65";

/** Compares with the golden file (or writes it with UPDATE_GOLDEN=1), after the strict checker. */
function golden(name: string, script: string) {
  assertValidIpxe(script, { requireFallbacks: true });
  const file = join(GOLDEN, name);
  if (process.env.UPDATE_GOLDEN === "1" || !existsSync(file)) writeFileSync(file, script);
  expect(script).toBe(readFileSync(file, "utf8"));
}

const node = (over: Partial<BootNode> = {}): BootNode => ({
  id: "x1000c0s0b0n0",
  nid: 1,
  role: "Compute",
  enabled: true,
  ...over,
});

const params = (over: Partial<BootParams>): BootParams => ({
  id: "bp-0",
  componentId: null,
  role: null,
  isDefault: false,
  kernelUri: "http://images.example/vmlinuz",
  initrdUri: "http://images.example/initramfs.img",
  cmdline: "",
  kernel: null,
  initrd: null,
  ...over,
});

const OWN = params({
  id: "bp-own",
  componentId: "x1000c0s0b0n0",
  kernelUri: "http://images.example/nodes/{id}/vmlinuz",
  initrdUri: "http://images.example/compute/initramfs-6.1.img",
  cmdline: "console=ttyS0,115200 root=live:http://images.example/compute/rootfs.squashfs rd.shell",
});
const COMPUTE = params({
  id: "bp-compute",
  role: "Compute",
  kernelUri: "http://images.example/{role}/vmlinuz",
  initrdUri: "http://images.example/{role}/initramfs.img",
  cmdline: "console=ttyS0,115200 hostname=nid{nid} mac={mac} -- splash",
});
const DEFAULT = params({
  id: "bp-default",
  isDefault: true,
  kernelUri: "tftp://10.0.0.1/default/vmlinuz",
  initrdUri: "tftp://10.0.0.1/default/initrd.img",
  cmdline: "console=tty0 ip=dhcp",
});

const byMac: Lookup = { by: "mac", mac: MAC };
const ctx = (lookup: Lookup, retry = 0): ScriptContext => ({ lookup, base: BASE, retry });

function boot(lookup: Lookup, n: BootNode, c: ParamsCandidates): Extract<BootDecision, { kind: "boot" }> {
  const d = decideBoot(lookup, [n], c);
  if (d.kind !== "boot") throw new Error(`expected a boot decision, got: ${d.reason}`);
  return d;
}

describe("boot scripts (golden)", () => {
  it("MAC match: the component's own params", () => {
    const d = boot(byMac, node(), { component: OWN, role: COMPUTE, default: DEFAULT });
    expect(d.source).toBe("component");
    golden("mac-match.ipxe", renderBootScript(ctx(byMac), d));
  });

  it("artifacts: an upload from this server, a registered one from its origin, or where an edge says", () => {
    const KERNEL = { artifact: "vmlinuz-6.1", sha256: "a".repeat(64), size: 9_000_000, url: null };
    const INITRD = {
      artifact: "initrd-6.1",
      sha256: "b".repeat(64),
      size: 70_000_000,
      url: "http://images.example/initrd-6.1.img",
    };
    const withArtifacts = params({
      id: "bp-artifacts",
      role: "Compute",
      kernelUri: "",
      initrdUri: "",
      kernel: KERNEL,
      initrd: INITRD,
      cmdline: "console=ttyS0",
    });
    const d = boot(byMac, node(), { role: withArtifacts });
    golden("artifacts.ipxe", renderBootScript(ctx(byMac), d));
    const edge = renderBootScript(
      { ...ctx(byMac), artifactUrl: (ref, base) => `${base}/cached/${ref.sha256}` },
      d,
    );
    expect(edge).toContain(
      `kernel --name kernel ${BASE}/cached/${KERNEL.sha256} initrd=initrd console=ttyS0`,
    );
    expect(edge).toContain(`initrd --name initrd ${BASE}/cached/${INITRD.sha256} || goto retry`);
  });

  it("role fallback: no params of its own, its role's win over the default", () => {
    const d = boot(byMac, node({ nid: 17 }), { role: COMPUTE, default: DEFAULT });
    expect(d.source).toBe("role");
    golden("role-fallback.ipxe", renderBootScript(ctx(byMac), d));
  });

  it("cluster default, asked by name: iPXE fills in the booting MAC", () => {
    const lookup: Lookup = { by: "name", id: "x1000c0s0b1n0" };
    const d = boot(lookup, node({ id: "x1000c0s0b1n0", nid: null, role: "Service" }), { default: DEFAULT });
    expect(d.source).toBe("default");
    golden("default-by-name.ipxe", renderBootScript(ctx(lookup), d));
  });

  it("unknown MAC (retry mode): says why, sleeps and chains back", () => {
    const d = decideBoot(byMac, [], undefined);
    expect(d).toEqual({ kind: "wait", reason: `no component in the inventory has MAC ${MAC}` });
    golden("unknown-mac-retry.ipxe", renderWaitScript(ctx(byMac), (d as { reason: string }).reason));
  });

  it("retry chain: the third retry chains to the fourth", () => {
    const d = boot(byMac, node(), { component: OWN });
    golden("retry-3.ipxe", renderBootScript(ctx(byMac, 3), d));
  });

  it("last retry: gives up with a clear message and reboots", () => {
    const d = boot(byMac, node(), { component: OWN });
    const script = renderBootScript(ctx(byMac, MAX_RETRIES), d);
    expect(script).not.toMatch(/chain/);
    golden("last-retry.ipxe", script);
  });

  it("unknown MAC at the last retry: reboots to start over", () => {
    const d = decideBoot(byMac, [], undefined) as { reason: string };
    golden("unknown-mac-last-retry.ipxe", renderWaitScript(ctx(byMac, MAX_RETRIES), d.reason));
  });

  it("nid lookup of a disabled node: waits, saying it is disabled", () => {
    const lookup: Lookup = { by: "nid", nid: 42 };
    const d = decideBoot(lookup, [node({ nid: 42, enabled: false })], undefined);
    expect(d.kind).toBe("wait");
    golden("disabled-by-nid.ipxe", renderWaitScript(ctx(lookup, 1), (d as { reason: string }).reason));
  });
});

describe("kernel command line", () => {
  it("keeps identity the params already give, and adds the rest", () => {
    const own = params({
      componentId: "x1000c0s0b0n0",
      cmdline:
        "chamicore.id=custom BOOTIF=01-00-00-00-00-00-01 ds=nocloud;s=http://ci.example/ initrd=initramfs",
    });
    const d = boot(byMac, node(), { component: own });
    expect(kernelArgs(d, ctx(byMac))).toEqual([
      "chamicore.id=custom",
      "BOOTIF=01-00-00-00-00-00-01",
      "ds=nocloud;s=http://ci.example/",
      "initrd=initramfs",
      "chamicore.nid=1",
    ]);
  });

  it("puts identity before a lone -- (what follows belongs to init)", () => {
    const d = boot(byMac, node({ nid: null }), {
      role: params({ role: "Compute", cmdline: "quiet -- single" }),
    });
    expect(kernelArgs(d, ctx(byMac))).toEqual([
      "initrd=initrd",
      "quiet",
      `chamicore.id=x1000c0s0b0n0`,
      "BOOTIF=01-a4-bf-01-38-ee-65",
      `ds=nocloud-net;s=${BASE}/cloud-init/x1000c0s0b0n0/`,
      "--",
      "single",
    ]);
  });

  it("has no initrd line nor initrd= without an initrd", () => {
    const d = boot(byMac, node(), { default: params({ isDefault: true, initrdUri: "" }) });
    const script = renderBootScript(ctx(byMac), d);
    assertValidIpxe(script, { requireFallbacks: true });
    expect(script).not.toMatch(/^initrd|initrd=/m);
  });

  it("collapses runs of spaces", () => {
    const d = boot(byMac, node(), { default: params({ isDefault: true, cmdline: "  a   b " }) });
    expect(kernelArgs(d, ctx(byMac)).slice(0, 3)).toEqual(["initrd=initrd", "a", "b"]);
  });
});

describe("resolution", () => {
  it("prefers the component's params, then the role's, then the default", () => {
    expect(boot(byMac, node(), { component: OWN, role: COMPUTE, default: DEFAULT }).paramsId).toBe("bp-own");
    expect(boot(byMac, node(), { role: COMPUTE, default: DEFAULT }).paramsId).toBe("bp-compute");
    expect(boot(byMac, node(), { default: DEFAULT }).paramsId).toBe("bp-default");
  });

  it(`substitutes {id}, {nid}, {role}, {mac}; by name, {mac} is iPXE's \${netX/mac}`, () => {
    const d = boot(byMac, node({ nid: 17 }), { role: COMPUTE });
    expect(d.kernelUri).toBe("http://images.example/Compute/vmlinuz");
    expect(d.cmdline).toBe(`console=ttyS0,115200 hostname=nid17 mac=${MAC} -- splash`);
    const byName = boot({ by: "name", id: "x1000c0s0b0n0" }, node(), { role: COMPUTE });
    expect(byName.cmdline).toContain(`mac=\${netX/mac} `);
  });

  const waits: [string, Lookup, BootNode[], ParamsCandidates | undefined, string][] = [
    ["unknown MAC", byMac, [], undefined, `no component in the inventory has MAC ${MAC}`],
    ["unknown name", { by: "name", id: "x9" }, [], undefined, "component x9 is not in the inventory"],
    ["unknown nid", { by: "nid", nid: 9 }, [], undefined, "no component in the inventory has nid 9"],
    [
      "ambiguous nid",
      { by: "nid", nid: 9 },
      [node({ id: "a1", nid: 9 }), node({ id: "b2", nid: 9 })],
      undefined,
      "nid 9 belongs to more than one component (a1, b2)",
    ],
    [
      "disabled",
      byMac,
      [node({ enabled: false })],
      { default: DEFAULT },
      "component x1000c0s0b0n0 is disabled (enabled: false)",
    ],
    [
      "no params anywhere",
      byMac,
      [node()],
      {},
      "no boot parameters apply to x1000c0s0b0n0: none for the component, none for its role Compute, and no cluster default",
    ],
    [
      "no params and no role",
      byMac,
      [node({ role: null })],
      {},
      "no boot parameters apply to x1000c0s0b0n0: none for the component, it has no role, and no cluster default",
    ],
    [
      "a placeholder without its fact",
      byMac,
      [node({ nid: null })],
      { role: COMPUTE },
      "the boot parameters bp-compute (role Compute) use {nid} but x1000c0s0b0n0 has no nid",
    ],
    [
      "a stored row that breaks the rules",
      byMac,
      [node()],
      { default: params({ isDefault: true, cmdline: "quiet\nchain http://evil/" }) },
      "the boot parameters bp-0 (the cluster default) are not valid: cmdline must not contain control characters (newlines, tabs)",
    ],
  ];
  for (const [what, lookup, nodes, candidates, reason] of waits)
    it(`waits with a reason: ${what}`, () => {
      expect(decideBoot(lookup, nodes, candidates)).toEqual({ kind: "wait", reason });
      assertValidIpxe(renderWaitScript(ctx(lookup), reason), { requireFallbacks: true });
    });

  it("checks params each time, and frozen params (the edge's index) once with the same verdict", () => {
    const bad =
      "the boot parameters bp-0 (the cluster default) are not valid: kernelUri must not contain whitespace";
    const mutable = params({ isDefault: true, kernelUri: "http://images.example/vmlinuz" });
    expect(decideBoot(byMac, [node()], { default: mutable }).kind).toBe("boot");
    mutable.kernelUri = "http://images.example/a b";
    expect(decideBoot(byMac, [node()], { default: mutable })).toEqual({ kind: "wait", reason: bad });
    const frozen = Object.freeze(params({ isDefault: true, kernelUri: "http://images.example/a b" }));
    for (let i = 0; i < 2; i++)
      expect(decideBoot(byMac, [node()], { default: frozen })).toEqual({ kind: "wait", reason: bad });
    const good = Object.freeze(params({ isDefault: true, kernelUri: "http://images.example/{role}" }));
    for (let i = 0; i < 2; i++)
      expect(boot(byMac, node(), { default: good }).kernelUri).toBe("http://images.example/Compute");
  });
});

describe("retry timing and echo", () => {
  it("backs off 5, 10, 20, 40, 60… seconds plus a per-node jitter of up to half", () => {
    for (let n = 0; n < MAX_RETRIES; n++) {
      const base = Math.min(5 * 2 ** n, 60);
      const d = retryDelay(n, MAC);
      expect(d).toBeGreaterThanOrEqual(base);
      expect(d).toBeLessThanOrEqual(base + base / 2);
      expect(retryDelay(n, MAC)).toBe(d);
    }
    const spread = new Set(Array.from({ length: 50 }, (_, i) => retryDelay(4, `node-${i}`)));
    expect(spread.size).toBeGreaterThan(10);
  });

  it("chains back to the same lookup with retry+1", () => {
    expect(bootScriptUrl(BASE, byMac, 4)).toBe(`${BASE}/boot/v1/bootscript?mac=${MAC}&retry=4`);
    expect(bootScriptUrl(BASE, { by: "nid", nid: 3 }, 1)).toBe(`${BASE}/boot/v1/bootscript?nid=3&retry=1`);
    expect(bootScriptUrl(BASE, { by: "name", id: "n1" })).toBe(`${BASE}/boot/v1/bootscript?name=n1`);
  });

  it("echoes text iPXE would otherwise read as syntax, harmlessly", () => {
    const line = echo(`a || b && c ; #d \${e} "f`);
    expect(line).toBe("echo a '||' b '&&' c ';' '#d' $ {e} 'f");
    assertValidIpxe(`#!ipxe\n${line}\n`);
  });

  it("echoes any text as splitting it into words would (the plain-text shortcut changes nothing)", () => {
    const split = (text: string) =>
      `echo ${text
        .replaceAll("${", "$ {")
        .replaceAll('"', "'")
        .split(/\s+/)
        .filter(Boolean)
        .map((w) => (w === "||" || w === "&&" || w === ";" || w.startsWith("#") ? `'${w}'` : w))
        .join(" ")}`;
    const piece = fc.constantFrom(
      " ",
      "  ",
      "\t",
      "\u00a0",
      "\u2028",
      "#",
      "${",
      "$",
      "{",
      '"',
      "||",
      "&&",
      ";",
      "|",
      "&",
      "é",
      "a",
      "b1",
      "x:y",
    );
    fc.assert(
      fc.property(
        fc.oneof(
          fc.string(),
          fc.array(piece).map((xs) => xs.join("")),
        ),
        (text) => {
          expect(echo(text)).toBe(split(text));
        },
      ),
      { numRuns: 2000 },
    );
  });
});

describe("text rules (write time)", () => {
  it("accepts absolute URIs with placeholders and iPXE settings", () => {
    for (const ok of [
      "http://images.example/vmlinuz",
      "https://images.example/{role}/{id}/vmlinuz?mac={mac}",
      "tftp://10.0.0.1/vmlinuz",
      `http://\${next-server}/vmlinuz`,
      "nfs://10.0.0.1/export/vmlinuz-{nid}",
    ])
      expect(checkUri(ok), ok).toBeUndefined();
  });

  it("refuses URIs that would break the script or the fetch", () => {
    const bad: [string, RegExp][] = [
      ["vmlinuz", /absolute URI/],
      ["/images/vmlinuz", /absolute URI/],
      ["gopher://x/vmlinuz", /schemes http, https, tftp, ftp, nfs/],
      ["http://x/vm linuz", /whitespace/],
      ["http://x/vmlinuz\n#", /control characters/],
      ["http://x/{hostname}", /unknown placeholder \{hostname\}/],
      [`http://x/\${net0/ip`, /\$\{ without its closing \}/],
      [`http://x/\${bad name}`, /whitespace|not an iPXE setting/],
      ['http://x/"q"', /must not contain "/],
    ];
    for (const [uri, why] of bad) expect(checkUri(uri), uri).toMatch(why);
  });

  it("refuses command lines iPXE or the kernel would misread", () => {
    expect(checkCmdline(`console=ttyS0 root="live:http://x/y" \${net0/ip} {id}`)).toBeUndefined();
    const bad: [string, RegExp][] = [
      ["quiet || reboot", /\|\| as a word/],
      ["quiet ; reboot", /; as a word/],
      ["quiet && x", /&& as a word/],
      ["quiet #comment", /starting with #/],
      ['console="ttyS0', /unbalanced "/],
      ["a\nchain http://evil/", /control characters/],
      ["x={hostname}", /unknown placeholder/],
      ["x={", /neither a placeholder/],
      ["x=}", /without its opening/],
    ];
    for (const [cmdline, why] of bad) expect(checkCmdline(cmdline), cmdline).toMatch(why);
  });

  it("substitutes facts and reports the first missing one", () => {
    const facts = { id: "n1", nid: undefined, role: "Compute", mac: MAC };
    expect(substitute(`{id}-{role}-\${id}`, facts)).toEqual({ text: `n1-Compute-\${id}` });
    expect(substitute("nid={nid}", facts)).toEqual({ missing: "nid" });
  });
});

describe("boot query", () => {
  const q = (s: string) => parseBootQuery(new URLSearchParams(s));
  it("takes exactly one of mac, name, nid, and a retry count", () => {
    expect(q("mac=A4-BF-01-38-EE-65")).toEqual({ lookup: byMac, retry: 0 });
    expect(q("name=x1&retry=3")).toEqual({ lookup: { by: "name", id: "x1" }, retry: 3 });
    expect(q("nid=17&retry=99&arch=x86_64")).toEqual({ lookup: { by: "nid", nid: 17 }, retry: MAX_RETRIES });
  });
  const refused: [string, string][] = [
    ["", "mac"],
    ["mac=a4:bf:01:38:ee:65&name=x1", "name"],
    ["mac=zz", "mac"],
    ["name=-bad-", "name"],
    ["nid=1.5", "nid"],
    ["nid=1&retry=-1", "retry"],
    ["mac=a4:bf:01:38:ee:65&mac=a4:bf:01:38:ee:66", "mac"],
  ];
  for (const [query, field] of refused)
    it(`refuses ?${query} with a 400 naming ${field}`, () => {
      let err: ApiError | undefined;
      try {
        q(query);
      } catch (e) {
        err = e as ApiError;
      }
      expect(err?.status).toBe(400);
      expect(err?.errors?.map((x) => x.field)).toContain(field);
    });
});

// ---------- the route, in both unknown-MAC modes, over an in-memory read store ----------

class MemoryBootStore implements BootReadStore {
  constructor(
    private readonly nodes: (BootNode & { macs: string[] })[],
    private readonly params: BootParams[],
  ) {}
  async nodeByMac(mac: string) {
    return this.nodes.find((n) => n.macs.includes(mac));
  }
  async nodeById(id: string) {
    return this.nodes.find((n) => n.id === id);
  }
  async nodesByNid(nid: number, limit: number) {
    return this.nodes.filter((n) => n.nid === nid).slice(0, limit);
  }
  async paramsFor(id: string, role: Role | null): Promise<ParamsCandidates> {
    return {
      component: this.params.find((p) => p.componentId === id),
      role: role ? this.params.find((p) => p.role === role) : undefined,
      default: this.params.find((p) => p.isDefault),
    };
  }
}

/** `publicUrl` null: none configured (the request's origin is advertised). */
function appWith(store: BootReadStore, unknownMac: "retry" | "404", publicUrl: string | null = BASE) {
  const app: OpenAPIHono<AppEnv> = createBaseApp<AppEnv>({
    logger: silentLogger,
    metrics: httpMetrics(new Registry()),
  });
  app.use(async (c, next) => {
    c.set("deps", {
      logger: silentLogger,
      serving: {
        publicUrl: publicUrl ?? undefined,
        unknownMac,
        trustedProxies: [],
        peerAddress: () => undefined,
      },
    } as never);
    c.set("stores", { boot: store } as never);
    await next();
  });
  registerBoot(app);
  return app;
}

describe("GET /boot/v1/bootscript", () => {
  const store = new MemoryBootStore([{ ...node(), macs: [MAC] }], [OWN]);

  it("serves the golden script as text/plain, never cached, without a token", async () => {
    const res = await appWith(store, "retry").request(`/boot/v1/bootscript?mac=${MAC.toUpperCase()}`);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toBe("text/plain; charset=utf-8");
    expect(res.headers.get("cache-control")).toBe("no-store");
    golden("mac-match.ipxe", await res.text());
  });

  it("unknown MAC, retry mode (the default): the golden retry script", async () => {
    const empty = new MemoryBootStore([], [OWN]);
    const res = await appWith(empty, "retry").request("/boot/v1/bootscript?mac=a4-bf-01-38-ee-65");
    expect(res.status).toBe(200);
    golden("unknown-mac-retry.ipxe", await res.text());
  });

  it("unknown MAC, 404 mode: a problem saying why", async () => {
    const res = await appWith(store, "404").request("/boot/v1/bootscript?mac=a4:bf:01:38:ee:99");
    expect(res.status).toBe(404);
    expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    const { requestId: _, ...body } = (await res.json()) as Record<string, unknown>;
    expect(body).toEqual({
      type: "https://chamicore.dev/problems/not-found",
      title: "Not found",
      status: 404,
      detail: "Cannot boot: no component in the inventory has MAC a4:bf:01:38:ee:99",
      instance: "/boot/v1/bootscript",
    });
  });

  it("uses the request's origin without a public URL", async () => {
    const res = await appWith(store, "retry", null).request(
      `http://10.1.0.1:8080/boot/v1/bootscript?name=x1000c0s0b0n0`,
    );
    const script = await res.text();
    assertValidIpxe(script, { requireFallbacks: true });
    expect(script).toContain("ds=nocloud-net;s=http://10.1.0.1:8080/cloud-init/x1000c0s0b0n0/");
    expect(script).toContain("http://10.1.0.1:8080/boot/v1/bootscript?name=x1000c0s0b0n0&retry=1");
  });

  it("answers 400 problems to a bad query", async () => {
    const app = appWith(store, "retry");
    for (const q of ["", "?mac=nope", "?mac=a4:bf:01:38:ee:65&nid=1", "?nid=x"]) {
      const res = await app.request(`/boot/v1/bootscript${q}`);
      expect(res.status, q).toBe(400);
      expect(res.headers.get("content-type")).toMatch(/^application\/problem\+json/);
    }
  });
});
