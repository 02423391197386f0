/**
 * Regenerates the web UI's screenshots in docs/ui/ (shown in the README):
 * a control plane on a throwaway embedded database, a demo cluster of four
 * racks with two edges reporting, and every view at 1280×800 in Debian's
 * Chromium. Run after changing a view: `npm run docs:ui`.
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";
import { startControl } from "../control/node/serve";
import { generateMasterKey, randomSecret } from "../shared/auth/crypto";
import { silentLogger } from "../shared/log";

const OUT = join(import.meta.dirname, "../docs/ui");
const CHROMIUM = process.env.CHROMIUM ?? execFileSync("which", ["chromium"], { encoding: "utf8" }).trim();
const admin = { id: "ops", secret: randomSecret(24) };
const dir = mkdtempSync(join(tmpdir(), "chamicore-ui-shots-"));
const control = await startControl(
  {
    CHAMICORE_LISTEN: "127.0.0.1:0",
    CHAMICORE_DATA_DIR: dir,
    CHAMICORE_MASTER_KEY: generateMasterKey(),
    CHAMICORE_BOOTSTRAP_CLIENT_ID: admin.id,
    CHAMICORE_BOOTSTRAP_CLIENT_SECRET: admin.secret,
  },
  silentLogger,
);
const browser = await chromium.launch({ executablePath: CHROMIUM });
try {
  const form = new URLSearchParams({ grant_type: "client_credentials" });
  const tokenRes = await fetch(`${control.url}/auth/v1/token`, {
    method: "POST",
    headers: { Authorization: `Basic ${btoa(`${admin.id}:${admin.secret}`)}` },
    body: form,
  });
  const token = ((await tokenRes.json()) as { access_token: string }).access_token;
  const api = async (method: string, path: string, body: unknown) => {
    const res = await fetch(control.url + path, {
      method,
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
      body: JSON.stringify(body),
    });
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${await res.text()}`);
  };

  // Four racks of 16 nodes: mostly up, some off or halted, a few service nodes.
  const states = [
    "Ready",
    "Ready",
    "Ready",
    "Ready",
    "Ready",
    "On",
    "Ready",
    "Off",
    "Ready",
    "Ready",
    "Halt",
  ];
  const components = [1000, 1001, 1002, 1003].flatMap((rack, r) => [
    { id: `x${rack}c0s0b0`, type: "NodeBMC", state: "Ready" },
    ...Array.from({ length: 16 }, (_, n) => ({
      id: `x${rack}c0s${n}b0n0`,
      type: "Node",
      state: states[(n + r * 3) % states.length],
      role: n < 14 ? "Compute" : "Service",
      nid: r * 16 + n + 1,
    })),
  ]);
  await api("POST", "/hsm/v2/import", { components });
  await api("POST", "/hsm/v2/Inventory/EthernetInterfaces", {
    componentId: "x1000c0s0b0n0",
    macAddress: "02:00:00:00:10:01",
    ipAddresses: [{ ipAddress: "10.1.0.1" }],
  });
  await api("POST", "/hsm/v2/groups", { name: "compute-a", members: ["x1000c0s0b0n0", "x1000c0s1b0n0"] });
  await api("POST", "/boot/v1/bootparams", {
    id: "compute",
    role: "Compute",
    kernelUri: "http://images.site/compute/vmlinuz",
    initrdUri: "http://images.site/compute/initrd.img",
    cmdline: "console=ttyS0,115200 ip=dhcp root=live:http://images.site/compute/rootfs.squashfs",
  });
  await api("POST", "/cloud-init/payloads", {
    id: "compute",
    role: "Compute",
    userData: "#cloud-config\nntp:\n  servers: [ntp.site]\nruncmd:\n  - [systemctl, start, slurmd]\n",
  });
  await api("POST", "/auth/v1/credentials", {
    id: "bmc-site",
    name: "Rack BMCs",
    type: "redfish",
    username: "root",
    secret: randomSecret(16),
  });
  await api("POST", "/discovery/v1/targets", {
    id: "rack-x1004",
    addresses: ["10.1.4.100-131"],
    credentialId: "bmc-site",
  });
  await api("POST", "/auth/v1/service-accounts", {
    id: "ci-pipeline",
    roles: ["viewer"],
    description: "CI reads",
  });
  const now = new Date().toISOString();
  const report = (lag: number, extra: Record<string, unknown> = {}) => ({
    version: "0.1.0",
    position: 200 - lag,
    head: 200,
    lagEvents: lag,
    lagSeconds: lag / 10,
    mode: "stream",
    lastContact: now,
    stalled: null,
    applyOk: true,
    kea: { state: "in-sync", reservations: 32, problems: 0 },
    progress: { pending: 0, dropped: 0, sent: 64 },
    ...extra,
  });
  await api("PUT", "/events/v1/edges/rack-a", report(0));
  await api(
    "PUT",
    "/events/v1/edges/rack-b",
    report(12, { kea: { state: "degraded", reservations: 30, problems: 2 } }),
  );

  mkdirSync(OUT, { recursive: true });
  const page = await (await browser.newContext({ viewport: { width: 1280, height: 800 } })).newPage();
  const shot = async (name: string) => {
    await page.waitForLoadState("networkidle");
    await page.screenshot({ path: join(OUT, `${name}.png`) });
    console.log(`docs/ui/${name}.png`);
  };
  await page.goto(`${control.url}/ui/`);
  await page.getByLabel("Client id").fill(admin.id);
  await shot("login");
  await page.getByLabel("Client secret").fill(admin.secret);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("heading", { level: 1, name: "Dashboard" }).waitFor();
  await page.locator(".changes li").first().waitFor();
  await shot("dashboard");
  await page.goto(`${control.url}/ui/#/inventory?type=Node&rack=x1001`);
  await page.locator("table.list tbody tr").first().waitFor();
  await shot("inventory");
  await page.goto(`${control.url}/ui/#/inventory/x1000c0s0b0n0`);
  await page.getByLabel("Boot script").filter({ hasText: "vmlinuz" }).waitFor();
  await shot("component");
  await page.getByRole("button", { name: "Edit" }).click();
  await shot("component-edit");
  await page.goto(`${control.url}/ui/#/boot`);
  await page.getByLabel("Node (id, MAC or NID)", { exact: true }).fill("x1000c0s0b0n0");
  await page.getByRole("button", { name: "Show its script" }).click();
  await page.getByLabel("Boot script").waitFor();
  await shot("boot");
  await page.goto(`${control.url}/ui/#/cloud-init`);
  await page.getByLabel("Node id", { exact: true }).fill("x1000c0s0b0n0");
  await page.getByRole("button", { name: "Show its documents" }).click();
  await page.locator("pre.doc").first().waitFor();
  await shot("cloud-init");
  await page.goto(`${control.url}/ui/#/power`);
  await page.getByRole("combobox", { name: "Group" }).selectOption("compute-a");
  await page.getByRole("row", { name: /x1000c0s1b0n0/ }).waitFor();
  await shot("power");
  await page.goto(`${control.url}/ui/#/discovery`);
  await page.getByRole("row", { name: /rack-x1004/ }).waitFor();
  await shot("discovery");
  await page.goto(`${control.url}/ui/#/access`);
  await page.getByRole("row", { name: /^ci-pipeline viewer/ }).waitFor();
  await shot("access");
} finally {
  await browser.close();
  await control.close();
  rmSync(dir, { recursive: true, force: true });
}
