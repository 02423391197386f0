/**
 * A real DHCP exchange, end to end, with every part a real process started
 * as a site would: `chamicore serve`, `chamicore edge` with KEA_CONTROL_URL,
 * kea-dhcp4 (Debian's 2.2) serving one side of a veth pair between two
 * network namespaces, configured with what `chamicore edge kea-config`
 * prints, and kea-ctrl-agent; busybox `udhcpc` on the other side plays the
 * booting node. The node gets its reserved address and
 * host name; as PXE firmware, the iPXE binary for its architecture from the
 * TFTP next-server; as iPXE, option 67 naming the edge's boot script for its
 * own MAC — and that URL, asked of the edge, is the node's boot script. An
 * inventory change reaches the next DHCP answer; a reservation Kea refuses
 * leaves Kea answering everyone else; SIGTERM stops the edge cleanly.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { generateMasterKey, randomSecret } from "../../shared/auth/crypto";
import {
  KEA_HOOKS,
  keaUnavailable,
  type NetPair,
  netPair,
  type RunningKea,
  removeStaleNetns,
  startKea,
  udhcpc,
} from "../support/kea";
import { eventually } from "../support/nats";
import { freePort, type Proc, run, serve, edge as startEdge } from "../support/process";
import { tokenFor, urlCall } from "../support/targets";

const unavailable = keaUnavailable();
if (unavailable)
  throw new Error(
    `the DHCP test needs Kea, busybox, iproute2 and root (.ci/run installs them): ${unavailable}`,
  );

const NODE = { id: "x1000c0s0b0n0", mac: "02:c4:00:00:00:01" };
const HAND = { mac: "0e:c4:00:00:00:09", host: 70 };
const cleanup: (() => Promise<unknown> | unknown)[] = [];
let net: NetPair;
let kea: RunningKea;
let control: Proc & { url: string };
let edge: Proc & { url: string };
let edgeUrl: string;
let token = "";

async function api(method: string, path: string, body?: unknown, contentType = "application/json") {
  const res = await fetch(control.url + path, {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": contentType },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await res.text();
  return { status: res.status, text, json: text ? JSON.parse(text) : undefined };
}
const at = (host: number) => net.serverIp.replace(/\.1$/, `.${host}`);

beforeAll(async () => {
  await removeStaleNetns();
  net = await netPair();
  cleanup.push(() => net.cleanup());
  // What booting nodes are told; the edge itself listens on loopback for the test.
  edgeUrl = `http://${net.serverIp}:8081`;
  // The boot settings exactly as the command prints them for an operator to merge.
  const printed = run(
    ["edge", "kea-config", "--edge-url", edgeUrl, "--tftp-server", net.serverIp, "--hooks-dir", KEA_HOOKS],
    {},
  );
  expect(await printed.exited).toEqual({ code: 0, signal: null });
  const site = JSON.parse(printed.output()).Dhcp4;
  kea = await startKea({
    netns: net.serverNs,
    persistLeases: true,
    dhcp4: {
      ...site,
      "interfaces-config": { interfaces: [net.serverIf], "dhcp-socket-type": "raw" },
      "valid-lifetime": 600,
      subnet4: [
        {
          id: 1,
          subnet: net.subnet,
          pools: [{ pool: `${at(100)} - ${at(200)}` }],
          reservations: [{ "hw-address": HAND.mac, "ip-address": at(HAND.host), hostname: "by-hand" }],
        },
      ],
    },
  });
  cleanup.push(() => kea.stop());
  const dataDir = mkdtempSync(join(tmpdir(), "chamicore-dhcp-"));
  cleanup.push(() => rmSync(dataDir, { recursive: true, force: true }));
  const secret = randomSecret(24);
  control = await serve({
    CHAMICORE_LISTEN: `127.0.0.1:${await freePort()}`,
    CHAMICORE_DATA_DIR: join(dataDir, "control"),
    CHAMICORE_MASTER_KEY: generateMasterKey(),
    CHAMICORE_BOOTSTRAP_CLIENT_ID: "ops",
    CHAMICORE_BOOTSTRAP_CLIENT_SECRET: secret,
  });
  cleanup.push(() => control.child.kill("SIGKILL"));
  token = await tokenFor(urlCall(control.url), "ops", secret);
  const sa = await api("POST", "/auth/v1/service-accounts", { id: "edge-dhcp", roles: ["edge"] });
  expect(sa.status, sa.text).toBe(201);
  await api("POST", "/boot/v1/bootparams", {
    isDefault: true,
    kernelUri: "http://images/vmlinuz",
    initrdUri: "http://images/initrd.img",
  });
  edge = await startEdge({
    CHAMICORE_CONTROL_URL: control.url,
    CHAMICORE_EDGE_CLIENT_ID: "edge-dhcp",
    CHAMICORE_EDGE_CLIENT_SECRET: sa.json.spec.clientSecret,
    CHAMICORE_EDGE_DATA_DIR: join(dataDir, "edge"),
    CHAMICORE_EDGE_LISTEN: `127.0.0.1:${await freePort()}`,
    CHAMICORE_EDGE_PUBLIC_URL: edgeUrl,
    CHAMICORE_EDGE_POLL_SECONDS: "0.2",
    KEA_CONTROL_URL: kea.url,
  });
  cleanup.push(() => edge.child.kill("SIGKILL"));
  const res = await api("POST", "/hsm/v2/State/Components", {
    id: NODE.id,
    role: "Compute",
    interfaces: [{ macAddress: NODE.mac, ipAddresses: [{ ipAddress: at(50) }] }],
  });
  expect(res.status, res.text).toBe(201);
  await reservedAt(NODE.mac, at(50));
});

afterAll(async () => {
  // Kea before the namespace: a namespace goes only once no process is left in it.
  for (const f of cleanup.reverse()) await Promise.resolve(f()).catch(() => {});
});

/** Waits until Kea's running configuration reserves `ip` for `mac`. */
async function reservedAt(mac: string, ip: string) {
  await eventually(
    `${mac} reserved at ${ip}`,
    async () =>
      (await kea.command("config-get")).arguments.Dhcp4.subnet4[0].reservations as Record<string, string>[],
    (rs) => rs.some((r) => r["hw-address"] === mac && r["ip-address"] === ip),
  );
}

async function lease(opts: Parameters<typeof udhcpc>[2]) {
  const l = await udhcpc(net.clientNs, net.clientIf, opts);
  expect(l, `no lease for ${opts.mac}\n${kea.logs().slice(-4000)}`).toBeDefined();
  return l!;
}

describe("DHCP from Kea, kept in step by the edge", () => {
  it("iPXE gets the reserved address, the host name, and the edge's boot script for its MAC", async () => {
    const l = await lease({ mac: NODE.mac, userClass: "iPXE", arch: 7 });
    expect(l.ip).toBe(at(50));
    expect(l.hostname).toBe(NODE.id);
    expect(l.bootFile).toBe(`${edgeUrl}/boot/v1/bootscript?mac=${NODE.mac}`);
    expect(l.file).toBeUndefined();
    // That URL, asked of the edge, is this node's boot script.
    const url = new URL(l.bootFile!);
    const script = await fetch(`${edge.url}${url.pathname}${url.search}`);
    expect(script.status).toBe(200);
    expect(script.headers.get("x-chamicore-boot")).toBe("boot");
    const text = await script.text();
    expect(text).toContain("http://images/vmlinuz");
    expect(text).toContain(NODE.id);
  });

  it.each([
    ["BIOS", 0, "undionly.kpxe"],
    ["x86-64 UEFI", 7, "ipxe.efi"],
    ["x86-64 UEFI (9)", 9, "ipxe.efi"],
    ["ARM64 UEFI", 11, "ipxe-arm64.efi"],
  ])("PXE firmware (%s) gets its iPXE binary from the TFTP next-server", async (_, arch, file) => {
    const l = await lease({ mac: NODE.mac, arch });
    expect(l.ip).toBe(at(50));
    expect(l.file).toBe(file);
    expect(l.siaddr).toBe(net.serverIp);
    expect(l.bootFile).toBeUndefined();
  });

  it("an unknown machine gets a pool address, and iPXE on it the boot script for its own MAC", async () => {
    const mac = "02:c4:00:00:00:77";
    const l = await lease({ mac, userClass: "iPXE" });
    const last = Number(l.ip.split(".").at(-1));
    expect(last).toBeGreaterThanOrEqual(100);
    expect(last).toBeLessThanOrEqual(200);
    expect(l.bootFile).toBe(`${edgeUrl}/boot/v1/bootscript?mac=${mac}`);
  });

  it("an inventory change reaches the next DHCP answer", async () => {
    const res = await api(
      "PATCH",
      `/hsm/v2/Inventory/EthernetInterfaces/${NODE.mac.replaceAll(":", "")}`,
      { ipAddresses: [{ ipAddress: at(60) }] },
      "application/merge-patch+json",
    );
    expect(res.status, res.text).toBe(200);
    await reservedAt(NODE.mac, at(60));
    expect((await lease({ mac: NODE.mac })).ip).toBe(at(60));
  });

  it("a reservation Kea refuses is reported, and Kea keeps answering", async () => {
    const res = await api("POST", "/hsm/v2/State/Components", {
      id: "x1000c0s1b0n0",
      role: "Compute",
      interfaces: [{ macAddress: "02:c4:00:00:00:02", ipAddresses: [{ ipAddress: at(HAND.host) }] }],
    });
    expect(res.status, res.text).toBe(201);
    const s = await eventually(
      "refusal reported",
      async () =>
        (await (await fetch(`${edge.url}/status`)).json()) as { kea: { problems: { items: object[] } } },
      (s) => s.kea.problems.items.some((p) => (p as { reason: string }).reason === "refused"),
    );
    expect(s.kea.problems.items).toEqual([
      expect.objectContaining({ reason: "refused", componentId: "x1000c0s1b0n0", address: at(HAND.host) }),
    ]);
    expect((await lease({ mac: NODE.mac })).ip).toBe(at(60));
    const hand = await lease({ mac: HAND.mac });
    expect([hand.ip, hand.hostname]).toEqual([at(HAND.host), "by-hand"]);
  });

  it("chamicore edge status shows the edge's position and its Kea sync", async () => {
    const r = run(["edge", "status", "--url", edge.url, "-o", "json"], {});
    expect(await r.exited).toEqual({ code: 0, signal: null });
    const s = JSON.parse(r.output());
    expect(s.position).toBeGreaterThan(0);
    expect(s.lag).toBe(0);
    expect(s.kea).toMatchObject({ strategy: "config", reservations: 1, problems: { total: 1 } });
  });

  it("stops on SIGTERM with Kea in step, and says so", async () => {
    edge.child.kill("SIGTERM");
    expect(await edge.exited).toEqual({ code: 0, signal: null });
    expect(edge.output()).toContain('"stopped"');
    expect(edge.output()).toContain('"Kea sync started"');
  });
});
