/**
 * The web UI as a site admin uses it, in Debian's Chromium driven by
 * playwright-core, against the Node server and against the Worker in
 * workerd (each serving the built UI from its own static files): log in,
 * the dashboard, the inventory paged and filtered by the API, a node's page
 * with its boot script and cloud-init as the node gets them, an edit that
 * conflicts with another user's and is reapplied, a viewer without write
 * controls whose forged write the API refuses, the whole flow by keyboard
 * alone, and logging out. Every view is checked with axe (no serious or
 * critical violation) and leaves no console error and no failed request.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import AxeBuilder from "@axe-core/playwright";
import { type Browser, type BrowserContext, chromium, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type EmulatedBmc, startBmc } from "../support/bmc";
import { type OidcProvider, startOidcProvider } from "../support/oidc";
import { nodePostgresTarget, type Target, workerTarget } from "../support/targets";

const CHROMIUM = (() => {
  try {
    return execFileSync("which", ["chromium"], { encoding: "utf8" }).trim();
  } catch {
    return "";
  }
})();

const NODE = "x1000c0s0b0n0";
const MAC = "02:00:00:00:10:01";
const KERNEL = "http://images.example/compute/vmlinuz";
const RACKS = ["x1000", "x1001", "x1002"];
const PER_RACK = 20;
const STATES = ["Ready", "Ready", "Ready", "Off", "Halt"] as const;

/** 3 racks of 20 nodes under their BMCs (63 components: more than one page), and what a node boots with. */
async function seed(t: Target) {
  const components = RACKS.flatMap((rack, r) => [
    { id: `${rack}c0s0b0`, type: "NodeBMC", state: "Ready" },
    ...Array.from({ length: PER_RACK }, (_, n) => ({
      id: `${rack}c0s${n}b0n0`,
      type: "Node",
      state: STATES[n % STATES.length],
      role: n < 16 ? "Compute" : "Service",
      nid: r * PER_RACK + n + 1,
    })),
  ]);
  const made = [
    await t.call("POST", "/hsm/v2/import", { body: { components } }),
    await t.call("POST", "/hsm/v2/Inventory/EthernetInterfaces", {
      body: { componentId: NODE, macAddress: MAC },
    }),
    await t.call("POST", "/boot/v1/bootparams", {
      body: { id: "compute", role: "Compute", kernelUri: KERNEL, cmdline: "console=ttyS0" },
    }),
    await t.call("POST", "/cloud-init/payloads", {
      body: { id: "compute", role: "Compute", userData: "#cloud-config\nntp:\n  servers: [ntp.example]\n" },
    }),
    await t.call("POST", "/auth/v1/service-accounts", { body: { id: "watcher", roles: ["viewer"] } }),
  ];
  for (const r of made) expect(r.status, r.text).toBe(201);
  return { viewerSecret: made.at(-1)!.json.spec.clientSecret as string };
}

/** A browser context that keeps every console error and failed request of its pages. */
async function contextFor(browser: Browser) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
  const errors: string[] = [];
  context.on("console", (m) => {
    if (m.type() === "error") errors.push(`console: ${m.text()}`);
  });
  context.on("weberror", (e) => errors.push(`page error: ${e.error().message}`));
  context.on("requestfailed", (r) =>
    errors.push(`failed: ${r.method()} ${r.url()} ${r.failure()?.errorText}`),
  );
  context.on("response", (r) => {
    if (r.status() >= 400) errors.push(`HTTP ${r.status()}: ${r.request().method()} ${r.url()}`);
  });
  return { context, errors };
}

async function logIn(page: Page, url: string, id: string, secret: string) {
  await page.goto(`${url}/ui/`);
  await page.getByLabel("Client id").fill(id);
  await page.getByLabel("Client secret").fill(secret);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("heading", { level: 1, name: "Dashboard" }).waitFor();
}

/** No serious or critical accessibility violation on what the page shows now. */
async function expectAccessible(page: Page, view: string) {
  const { violations } = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21aa"]).analyze();
  const bad = violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => `${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).join("; ")})`);
  expect(bad, view).toEqual([]);
}

/** The files the page loads before it runs (scripts, styles, preloads), relative to /ui/. */
const initialAssets = (html: string) =>
  [...html.matchAll(/(?:src|href)="\/ui\/(assets\/[^"]+\.(?:js|css))"/g)].map((m) => m[1]!);

const rowsOf = (page: Page) => page.locator("table.list tbody tr");

/** `errors` without those of an answer with `status` the test expects (and the browser logs). */
const besides = (errors: string[], status: number) =>
  errors.filter((e) => !e.startsWith(`HTTP ${status}`) && !e.includes(`status of ${status}`));

/** A real OpenID Connect provider whose user "ada" is in the group mapped to viewer. */
let op: OidcProvider;
beforeAll(async () => {
  op = await startOidcProvider({ ada: { groups: ["hpc-users"], name: "Ada Lovelace" } });
});
afterAll(() => op?.close());
const idpEnv = () => ({ CHAMICORE_TRUSTED_ISSUERS: JSON.stringify([op.trustedIssuer()]) });

describe.skipIf(!CHROMIUM).each([
  ["node+postgres", () => nodePostgresTarget({ ...idpEnv(), CHAMICORE_POWER_POLL_SECONDS: "0.05" })],
  ["workerd+postgres", () => workerTarget(idpEnv(), { artifacts: false })],
])("web UI on %s", (name, start) => {
  let t: Target;
  let browser: Browser;
  let url: string;
  let admin: { id: string; secret: string };
  let viewerSecret: string;
  let bmc: EmulatedBmc;
  const contexts: BrowserContext[] = [];
  const open = async () => {
    const c = await contextFor(browser);
    contexts.push(c.context);
    return { ...c, page: await c.context.newPage() };
  };

  beforeAll(async () => {
    [t, browser, bmc] = await Promise.all([
      start(),
      chromium.launch({ executablePath: CHROMIUM }),
      startBmc({ initialPowerState: "Off", powerDelayMs: 300 }),
    ]);
    url = t.url!;
    op.allowRedirect(`${url}/auth/v1/session/callback`);
    admin = { id: t.env.CHAMICORE_BOOTSTRAP_CLIENT_ID, secret: t.env.CHAMICORE_BOOTSTRAP_CLIENT_SECRET };
    ({ viewerSecret } = await seed(t));
  }, 180_000);
  afterAll(async () => {
    for (const c of contexts) await c.close();
    await browser?.close();
    await t?.stop();
    await bmc?.close();
  });

  it("serves the UI with a strict Content-Security-Policy", async () => {
    const res = await fetch(`${url}/ui/`);
    expect(res.status).toBe(200);
    const csp = res.headers.get("content-security-policy") ?? "";
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("style-src 'self'");
    expect(csp).not.toMatch(/unsafe-(inline|eval)/);
    expect(res.headers.get("x-frame-options")).toBe("DENY");
    const html = await res.text();
    const script = /src="(\/ui\/assets\/[^"]+\.js)"/.exec(html)![1]!;
    const asset = await fetch(url + script);
    expect(asset.status).toBe(200);
    expect(asset.headers.get("cache-control")).toContain("immutable");
    expect(asset.headers.get("content-security-policy")).toBe(csp);
  });

  it("refuses a wrong secret, then logs in to the dashboard of the seeded cluster", async () => {
    const { page, errors } = await open();
    await page.goto(`${url}/ui/`);
    await page.getByLabel("Client id").fill(admin.id);
    await page.getByLabel("Client secret").fill("wrong-secret");
    await page.getByRole("button", { name: "Log in" }).click();
    await expect.poll(() => page.getByRole("alert").textContent()).toContain("Unauthorized");
    // The refusal is the one failed request; nothing else went wrong.
    expect(besides(errors, 401)).toEqual([]);
    errors.length = 0;

    await page.getByLabel("Client secret").fill(admin.secret);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByRole("heading", { level: 1, name: "Dashboard" }).waitFor();
    const cards = page.locator(".card");
    await expect.poll(() => cards.first().textContent()).toContain("63");
    await expect.poll(() => cards.nth(1).textContent()).toMatch(/60\s*nodes, by state/);
    expect(await cards.nth(1).textContent()).toMatch(/Ready\s*36/);
    await expect.poll(() => page.locator(".racks > li").count()).toBe(3);
    // Each rack's nodes, cell by cell in id order, coloured by state; a cell opens its node.
    const grid = page.getByRole("list", { name: "Rack x1001: each node by state" });
    await expect.poll(() => grid.getByRole("link").count()).toBe(PER_RACK);
    expect(await grid.getByRole("link").nth(3).getAttribute("aria-label")).toBe("x1001c0s3b0n0: Off");
    expect(await grid.getByRole("link").nth(3).getAttribute("class")).toContain("fill-off");
    expect(await grid.getByRole("link").nth(10).getAttribute("aria-label")).toBe("x1001c0s10b0n0: Ready");
    await expect.poll(() => page.locator(".changes li").count()).toBeGreaterThan(5);
    await expectAccessible(page, "dashboard");
    // A node that changes state changes colour on the next refresh.
    const changed = await t.call("PATCH", "/hsm/v2/State/Components/x1001c0s3b0n0", {
      body: { state: "Standby" },
    });
    expect(changed.status, changed.text).toBe(200);
    try {
      await grid.getByRole("link", { name: "x1001c0s3b0n0: Standby" }).waitFor({ timeout: 15_000 });
    } finally {
      await t.call("PATCH", "/hsm/v2/State/Components/x1001c0s3b0n0", { body: { state: "Off" } });
    }
    await grid.getByRole("link").nth(3).click();
    await page.getByRole("heading", { level: 1, name: "x1001c0s3b0n0" }).waitFor();
    expect(errors).toEqual([]);
  });

  it("pages, filters and sorts the inventory on the server", async () => {
    const { page, errors } = await open();
    await logIn(page, url, admin.id, admin.secret);
    await page.getByRole("link", { name: "Inventory" }).click();
    await page.getByRole("heading", { level: 1, name: "Inventory" }).waitFor();
    const status = page.getByRole("status").filter({ hasText: "of" });
    await expect.poll(() => status.textContent()).toContain("1–50 of 63");
    expect(await rowsOf(page).count()).toBe(50);
    await page.getByRole("button", { name: "Next" }).click();
    await expect.poll(() => status.textContent()).toContain("51–63 of 63");
    expect(await rowsOf(page).count()).toBe(13);

    await page.getByLabel("State").selectOption("Halt");
    await expect.poll(() => status.textContent()).toContain("1–12 of 12");
    const states = await page.locator("table.list tbody .badge").allTextContents();
    expect(new Set(states)).toEqual(new Set(["Halt"]));
    // The filter is in the URL: a reload shows the same page.
    await page.reload();
    await expect.poll(() => status.textContent()).toContain("1–12 of 12");

    await page.getByRole("button", { name: "nid" }).click();
    await page.getByRole("button", { name: "nid" }).click();
    await expect
      .poll(() => page.locator("table.list thead th[aria-sort='descending']").textContent())
      .toContain("nid");
    await expect
      .poll(async () => (await rowsOf(page).first().locator("td").nth(3).textContent())?.trim())
      .toBe("60");
    await expectAccessible(page, "inventory");
    expect(errors).toEqual([]);
  });

  it("creates one component, and shows the API's refusal of a bad one where it was typed", async () => {
    const { page, errors } = await open();
    await logIn(page, url, admin.id, admin.secret);
    await page.getByRole("link", { name: "Inventory" }).click();
    await page.getByRole("button", { name: "New component" }).click();
    const form = page.getByRole("form", { name: "New component" });
    await form.getByLabel("Id", { exact: true }).fill("not an id!");
    await form.getByRole("button", { name: "Create" }).click();
    await expect.poll(() => page.getByRole("alert").textContent()).toMatch(/id/i);
    expect(besides(errors, 422)).toEqual([]);
    errors.length = 0;
    await form.getByLabel("Id", { exact: true }).fill("x4000c0s0b0n0");
    await form.getByRole("combobox", { name: "Role" }).selectOption("Service");
    await form.getByRole("button", { name: "Create" }).click();
    await page.getByRole("heading", { level: 1, name: "x4000c0s0b0n0" }).waitFor();
    expect((await t.call("GET", "/hsm/v2/State/Components/x4000c0s0b0n0")).json.spec).toMatchObject({
      type: "Node",
      role: "Service",
    });
    await expect.poll(() => page.getByLabel("Boot script").textContent()).toContain("#!ipxe");
    expect(await page.locator(".ipxe-command").first().textContent()).toBe("#!ipxe");
    expect(errors).toEqual([]);
  });

  it("shows a node's page with the boot script and cloud-init it gets", async () => {
    const { page, errors } = await open();
    await logIn(page, url, admin.id, admin.secret);
    await page.goto(`${url}/ui/#/inventory/${NODE}`);
    await page.getByRole("heading", { level: 1, name: NODE }).waitFor();
    await expect.poll(() => page.getByLabel("Boot script").textContent()).toContain(KERNEL);
    await expect.poll(() => page.getByLabel("user-data").textContent()).toContain("ntp.example");
    await expect.poll(() => page.getByRole("table").filter({ hasText: "MAC" }).textContent()).toContain(MAC);
    await expectAccessible(page, "component");
    expect(errors).toEqual([]);
  });

  it("shows an edit that conflicts with another user's what changed, and reapplies it", async () => {
    const target = "x1001c0s1b0n0";
    const a = await open();
    const b = await open();
    for (const s of [a, b]) {
      await logIn(s.page, url, admin.id, admin.secret);
      await s.page.goto(`${url}/ui/#/inventory/${target}`);
      await s.page.getByRole("button", { name: "Edit" }).click();
    }
    await a.page.getByRole("combobox", { name: "Role" }).selectOption("Storage");
    await b.page.getByRole("combobox", { name: "Role" }).selectOption("Service");
    await b.page.getByLabel("State").selectOption("Off");
    await b.page.getByRole("button", { name: "Save" }).click();
    await b.page.getByRole("button", { name: "Edit" }).waitFor();

    await a.page.getByRole("button", { name: "Save" }).click();
    const conflict = a.page.locator(".conflict");
    await expect.poll(() => conflict.textContent()).toContain("Someone changed");
    const row = conflict.locator("tbody tr").filter({ hasText: "role" });
    expect((await row.locator("td").allTextContents()).map((s) => s.trim())).toEqual(["Service", "Storage"]);
    expect((await t.call("GET", `/hsm/v2/State/Components/${target}`)).json.spec.role).toBe("Service");

    await a.page.getByRole("button", { name: "Reapply mine" }).click();
    await a.page.getByRole("button", { name: "Edit" }).waitFor();
    const stored = (await t.call("GET", `/hsm/v2/State/Components/${target}`)).json.spec;
    // Mine is applied over theirs: their state kept, my role on top.
    expect(stored).toMatchObject({ role: "Storage", state: "Off" });
    // The 412 the conflict was detected by is the one failed request.
    expect(besides(a.errors, 412)).toEqual([]);
    expect(b.errors).toEqual([]);
  });

  it("runs the daily flow: import a rack, boot it, configure it, power it on, see it on the dashboard", async () => {
    const { page, errors } = await open();
    await logIn(page, url, admin.id, admin.secret);

    // A rack file with a bad row is refused line by line, and nothing is sent.
    await page.getByRole("link", { name: "Inventory" }).click();
    await page.getByRole("button", { name: "Import…" }).click();
    const file = (name: string, text: string) => ({ name, mimeType: "text/csv", buffer: Buffer.from(text) });
    const header = "xname,role,nid,mac,groups\n";
    await page
      .getByLabel("File", { exact: true })
      .setInputFiles(file("bad.csv", `${header}x3000c0s0b0n0,Storage,301,not-a-mac,rack3000\n`));
    const problems = page.locator(".import table tbody tr");
    await expect.poll(() => problems.first().textContent()).toMatch(/^2.*x3000c0s0b0n0.*mac/i);
    expect(await page.getByRole("button", { name: /^Import \d/ }).isDisabled()).toBe(true);
    expect((await t.call("GET", "/hsm/v2/State/Components/x3000c0s0b0n0")).status).toBe(404);

    // The fixed file goes in, with its group.
    const rows = [0, 1, 2, 3].map((n) => `x3000c0s${n}b0n0,Storage,${301 + n},02:00:00:30:00:0${n},rack3000`);
    await page
      .getByLabel("File", { exact: true })
      .setInputFiles(file("rack3000.csv", header + rows.join("\n")));
    await page.getByRole("button", { name: "Import 4 components" }).click();
    await expect
      .poll(() => page.locator(".import .notice-ok").textContent())
      .toContain("Imported 4 components");
    expect((await t.call("GET", "/hsm/v2/groups/rack3000")).json.spec.members).toHaveLength(4);

    // Boot parameters for the role, and the script a node of it gets.
    await page.getByRole("link", { name: "Boot" }).click();
    await page.getByRole("button", { name: "New boot parameters" }).click();
    await page.getByLabel("Id (optional)", { exact: true }).fill("storage");
    await page.getByRole("combobox", { name: "Role" }).selectOption("Storage");
    await page.getByLabel("Kernel URL", { exact: true }).fill("http://images.example/storage/vmlinuz");
    await page.getByLabel("Kernel command line", { exact: true }).fill("console=ttyS0 storage=1");
    await page.getByRole("button", { name: "Create" }).click();
    await page.getByRole("row", { name: /storage.*role Storage/ }).waitFor();
    await page.getByLabel("Node (id, MAC or NID)", { exact: true }).fill("02:00:00:30:00:01");
    await page.getByRole("button", { name: "Show its script" }).click();
    await expect.poll(() => page.getByLabel("Boot script").textContent()).toContain("storage/vmlinuz");
    await expectAccessible(page, "boot");

    // A cloud-init payload for the role, and what a node of it gets merged.
    await page.getByRole("link", { name: "Cloud-init" }).click();
    await page.getByRole("button", { name: "New payload" }).click();
    await page.getByRole("combobox", { name: "Role" }).selectOption("Storage");
    await page.getByLabel("user-data").fill("#cloud-config\nhostname: storage-node\n");
    await page.getByRole("button", { name: "Create" }).click();
    await page.getByRole("row", { name: /role Storage/ }).waitFor();
    await page.getByLabel("Node id", { exact: true }).fill("x3000c0s0b0n0");
    await page.getByRole("button", { name: "Show its documents" }).click();
    await expect
      .poll(() => page.getByLabel("user-data", { exact: true }).last().textContent())
      .toContain("hostname: storage-node");
    await expectAccessible(page, "cloud-init");

    // Power the group on (its BMC registered as discovery would), and follow it.
    const made = [
      await t.call("POST", "/auth/v1/credentials", {
        body: { id: "bmc3000", name: "BMC", type: "redfish", username: "admin", secret: "password" },
      }),
      await t.call("POST", "/hsm/v2/State/Components", { body: { id: "x3000c0s0b0", state: "Ready" } }),
      await t.call("PATCH", "/hsm/v2/State/Components/x3000c0s0b0n0", { body: { parentId: "x3000c0s0b0" } }),
      await t.call("POST", "/power/v1/bmcs", {
        body: { id: "x3000c0s0b0", address: bmc.url, credentialId: "bmc3000" },
      }),
    ];
    for (const r of made) expect(r.status, r.text).toBeLessThan(300);
    // The group to power: the node whose BMC is the emulator.
    for (const n of [1, 2, 3]) {
      const r = await t.call("DELETE", `/hsm/v2/groups/rack3000/members/x3000c0s${n}b0n0`);
      expect(r.status, r.text).toBeLessThan(300);
    }
    await page.getByRole("link", { name: "Power" }).click();
    await page.getByRole("combobox", { name: "Group" }).selectOption("rack3000");
    await page.getByRole("row", { name: /x3000c0s0b0n0/ }).waitFor();
    await page.getByRole("button", { name: "Power on 1 node" }).click();
    const state = page.locator("#follow-h + p, section[aria-labelledby='follow-h'] p[role='status']");
    if (name === "node+postgres") {
      await expect
        .poll(() => state.first().textContent(), { timeout: 30_000 })
        .toMatch(/completed.*1 of 1 final \(1\s+succeeded/s);
      expect(bmc.powerState()).toBe("On");
    } else {
      // The Worker runs no power agent (an edge does the work): the transition waits; abort it.
      await expect.poll(() => state.first().textContent()).toContain("new");
      await page.getByRole("button", { name: "Abort…" }).click();
      await page.getByLabel("Type abort", { exact: true }).fill("abort");
      await page.getByRole("button", { name: "Abort the transition" }).click();
      await expect.poll(() => state.first().textContent()).toMatch(/abort/);
    }
    await expectAccessible(page, "power");

    // The dashboard shows what was just done.
    await page.getByRole("link", { name: "Dashboard" }).click();
    await expect.poll(() => page.locator(".changes").textContent()).toMatch(/storage.*bootparams|payloads/s);

    // The role's boot parameters deleted again, confirmed by typing their id.
    await page.getByRole("link", { name: "Boot" }).click();
    await page.getByRole("button", { name: "Delete storage" }).click();
    await page.getByLabel("Type its id").fill("storage");
    await page.getByRole("button", { name: "Delete storage" }).last().click();
    await expect.poll(() => page.getByRole("row", { name: /role Storage/ }).count()).toBe(0);
    expect((await t.call("GET", "/boot/v1/bootparams/storage")).status).toBe(404);
    expect(errors).toEqual([]);
  });

  it("makes a service account and shows its secret once, with a copy button", async () => {
    const { page, context, errors } = await open();
    await context.grantPermissions(["clipboard-read", "clipboard-write"]);
    await logIn(page, url, admin.id, admin.secret);
    await page.getByRole("link", { name: "Access" }).click();
    await page.getByRole("button", { name: "New service account" }).click();
    await page.getByLabel("Id (optional)", { exact: true }).fill("ui-made");
    await page.getByRole("button", { name: "Create" }).click();
    const secret = (await page.getByLabel("Client secret").textContent())!.trim();
    expect(secret.length).toBeGreaterThan(20);
    await page.getByRole("button", { name: "Copy the secret" }).click();
    expect(await page.evaluate<string>("navigator.clipboard.readText()")).toBe(secret);
    // The secret is the account's: it gets a token.
    const token = await fetch(`${url}/auth/v1/token`, {
      method: "POST",
      headers: { Authorization: `Basic ${btoa(`ui-made:${secret}`)}` },
      body: new URLSearchParams({ grant_type: "client_credentials" }),
    });
    expect(token.status).toBe(200);
    await page.getByRole("button", { name: "Done" }).click();
    expect(await page.content()).not.toContain(secret);
    await page.getByRole("row", { name: /ui-made.*viewer/ }).waitFor();
    await expectAccessible(page, "access");
    // The audit trail shows who made it.
    await page.getByRole("form", { name: "Filter the audit trail" }).getByLabel("Subject").fill(admin.id);
    await page.getByRole("combobox", { name: "Method" }).selectOption("POST");
    await page.getByRole("button", { name: "Show" }).click();
    await expect
      .poll(() => page.locator("section[aria-labelledby='audit-h'] tbody").textContent())
      .toContain("/auth/v1/service-accounts");
    expect(errors).toEqual([]);
  });

  it("grants and takes back a role's scope and member, and adds and deletes a device credential", async () => {
    const { page, errors } = await open();
    await logIn(page, url, admin.id, admin.secret);
    await page.getByRole("link", { name: "Access" }).click();
    const grant = page.getByRole("form", { name: "Grant a scope" });
    const member = page.getByRole("form", { name: "Add a member" });
    const auditor = page.getByRole("row", { name: /^auditor / });

    // A scope the API refuses is said where it was typed, and nothing changes.
    await grant.getByLabel("Role").fill("auditor");
    await grant.getByLabel("Scope").fill("everything");
    await grant.getByRole("button", { name: "Grant" }).click();
    await expect.poll(() => page.getByRole("alert").textContent()).toContain("scope");
    expect(
      (await t.call("GET", "/auth/v1/roles")).json.items.map((r: { name: string }) => r.name),
    ).not.toContain("auditor");

    await grant.getByLabel("Scope").fill("read:components");
    await grant.getByRole("button", { name: "Grant" }).click();
    await auditor.filter({ hasText: "read:components" }).waitFor();
    await member.getByRole("combobox", { name: "To role" }).selectOption("auditor");
    await member.getByLabel("Subject").fill("corp:grace");
    await member.getByRole("button", { name: "Add" }).click();
    await auditor.filter({ hasText: "corp:grace" }).waitFor();
    const role = async () =>
      (await t.call("GET", "/auth/v1/roles")).json.items.find((r: { name: string }) => r.name === "auditor");
    expect(await role()).toEqual({ name: "auditor", scopes: ["read:components"], members: ["corp:grace"] });

    // Taking away is confirmed by typing the role's name.
    await page.getByRole("button", { name: "Remove corp:grace from auditor" }).click();
    const take = page.getByRole("button", { name: "Take the member corp:grace from auditor" });
    expect(await take.isDisabled()).toBe(true);
    await page.getByLabel("Type the role's name").fill("auditor");
    await take.click();
    await expect.poll(() => auditor.textContent()).not.toContain("corp:grace");
    await page.getByRole("button", { name: "Take read:components from auditor" }).click();
    await page.getByLabel("Type the role's name").fill("auditor");
    await page.getByRole("button", { name: "Take the scope read:components from auditor" }).click();
    await expect.poll(role).toBeUndefined();

    // A device credential: its secret goes in and is never shown.
    await page.getByRole("button", { name: "New device credential" }).click();
    const cred = page.getByRole("form", { name: "New device credential" });
    await cred.getByLabel("Id (optional)").fill("bmc-ui");
    await cred.getByLabel("Name", { exact: true }).fill("BMCs of rack 5");
    await cred.getByLabel("Username").fill("root");
    await cred.getByLabel("Secret").fill("ui-secret-5af3");
    await cred.getByRole("button", { name: "Create" }).click();
    await page.getByRole("row", { name: /bmc-ui.*BMCs of rack 5.*redfish.*root/ }).waitFor();
    expect(await page.content()).not.toContain("ui-secret-5af3");
    expect((await t.call("GET", "/auth/v1/credentials/bmc-ui")).json.spec.secret).toBe("ui-secret-5af3");
    await expectAccessible(page, "access, editing");
    await page.getByRole("button", { name: "Delete bmc-ui" }).click();
    await page.getByLabel("Type its id").fill("bmc-ui");
    await page.getByRole("button", { name: "Delete bmc-ui" }).last().click();
    await expect.poll(() => page.getByRole("row", { name: /bmc-ui/ }).count()).toBe(0);
    expect((await t.call("GET", "/auth/v1/credentials/bmc-ui")).status).toBe(404);
    expect(besides(errors, 422)).toEqual([]);
  });

  it("adds a discovery target and follows its scan", async () => {
    const cred = await t.call("POST", "/auth/v1/credentials", {
      body: { id: "disc-cred", name: "BMC", type: "redfish", username: "admin", secret: "password" },
    });
    expect(cred.status, cred.text).toBe(201);
    const { page, errors } = await open();
    await logIn(page, url, admin.id, admin.secret);
    await page.getByRole("link", { name: "Discovery" }).click();
    await page.getByRole("button", { name: "New target" }).click();
    await page.getByLabel("Id", { exact: true }).fill("rack9");
    await page.getByRole("textbox", { name: /^Addresses/ }).fill(bmc.url);
    await page.getByLabel("Credential id").fill("disc-cred");
    await page.getByRole("button", { name: "Create" }).click();
    await page.getByRole("row", { name: /rack9/ }).waitFor();
    await page.getByRole("button", { name: "Scan rack9" }).click();
    const state = page.locator("section[aria-labelledby='scan-h'] p[role='status']");
    if (name === "node+postgres") {
      await expect.poll(() => state.textContent(), { timeout: 30_000 }).toContain("completed");
      await expect
        .poll(() => page.locator("section[aria-labelledby='scan-h'] tbody").textContent())
        .toContain(bmc.url.replace(/^https?:\/\//, ""));
    } else {
      // No agent on the Worker (an edge scans): the scan waits for one.
      await expect.poll(() => state.textContent()).toContain("new");
    }
    await expectAccessible(page, "discovery");
    expect(errors).toEqual([]);
  });

  it("gives a viewer no write controls, and the API refuses a write forged from the page", async () => {
    const { page, errors } = await open();
    await logIn(page, url, "watcher", viewerSecret);
    await page.goto(`${url}/ui/#/inventory/${NODE}`);
    await page.getByRole("heading", { level: 1, name: NODE }).waitFor();
    await expect.poll(() => page.getByLabel("Boot script").textContent()).toContain(KERNEL);
    expect(await page.getByRole("button", { name: "Edit" }).count()).toBe(0);
    expect(await page.getByRole("button", { name: /Delete/ }).count()).toBe(0);
    const forged = await page.evaluate(async (id) => {
      const res = await fetch(`/hsm/v2/State/Components/${id}`, {
        method: "PATCH",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ state: "Off" }),
      });
      return { status: res.status, body: (await res.json()) as { detail: string } };
    }, NODE);
    expect(forged.status).toBe(403);
    expect(forged.body.detail).toContain("write:components");
    expect((await t.call("GET", `/hsm/v2/State/Components/${NODE}`)).json.spec.state).toBe("Ready");
    // Only the forged write was refused: the viewer's own page asked for nothing it may not read.
    expect(errors.filter((e) => e.startsWith("HTTP"))).toEqual([expect.stringMatching(/^HTTP 403: PATCH /)]);
    expect(besides(errors, 403)).toEqual([]);
  });

  it("logs in at an identity provider and opens the page asked for, with the user's role", async () => {
    const { page, errors } = await open();
    await page.goto(`${url}/ui/#/inventory`);
    await page.getByRole("link", { name: "Log in with Corp SSO" }).waitFor();
    await expectAccessible(page, "login with an identity provider");
    await page.getByRole("link", { name: "Log in with Corp SSO" }).click();
    // The provider's own pages: its login, then its consent.
    await page.locator('input[name="login"]').fill("ada");
    await page.locator('input[name="password"]').fill("any password");
    await page.getByRole("button", { name: "Sign-in" }).click();
    await page.getByRole("button", { name: "Continue" }).click();
    await page.getByRole("heading", { level: 1, name: "Inventory" }).waitFor();
    await expect.poll(() => page.getByTitle("Logged in as").textContent()).toBe("corp:ada");
    await expect.poll(() => rowsOf(page).count()).toBeGreaterThan(0);
    // hpc-users is mapped to viewer: nothing to change with.
    expect(await page.getByRole("button", { name: "New component" }).count()).toBe(0);
    expect(await page.evaluate<string>("document.cookie")).toBe("");
    // The provider's pages ask for web fonts this offline machine cannot fetch: only ours are checked.
    expect(errors.filter((e) => e.includes(url))).toEqual([]);
  });

  it("runs the main flow by keyboard alone: import, boot, cloud-init, power, dashboard", async () => {
    const { page, errors } = await open();
    await page.goto(`${url}/ui/`);
    await page.getByLabel("Client id").waitFor();
    await page.keyboard.type(admin.id);
    await page.keyboard.press("Tab");
    await page.keyboard.type(admin.secret);
    await page.keyboard.press("Enter");
    await page.getByRole("heading", { level: 1, name: "Dashboard" }).waitFor();
    // The focused element's name: its label's own text, else its aria-label or text. Evaluated in
    // the page (a string: the tests are not compiled with the DOM's types).
    const focused = () =>
      page.evaluate<string>(`(() => {
        const el = document.activeElement;
        const label = el?.labels?.[0];
        if (label) return [...label.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent).join("").trim();
        return (el?.getAttribute("aria-label") ?? el?.textContent ?? "").trim();
      })()`);
    /** Tab (or Shift+Tab) until the focused element is `name`, at most 80 presses. */
    const tabTo = async (name: string, key = "Tab") => {
      for (let i = 0; i < 80 && (await focused()) !== name; i++) await page.keyboard.press(key);
      expect(await focused()).toBe(name);
    };
    /** To another view by its link in the navigation, above the page. */
    const goTo = async (view: string) => {
      await tabTo(view, "Shift+Tab");
      await page.keyboard.press("Enter");
      // The new page's heading takes the focus.
      await expect.poll(focused).toBe(view);
    };

    // The focus is on the page's heading: the navigation is above it.
    await expect.poll(focused).toBe("Dashboard");
    await goTo("Inventory");
    await page.getByRole("link", { name: NODE, exact: true }).waitFor();
    await tabTo(NODE);
    await page.keyboard.press("Enter");
    await expect.poll(focused).toBe(NODE);
    await expect.poll(() => page.getByLabel("Boot script").textContent()).toContain(KERNEL);

    // A rack file imported: the file input opens the file chooser from the keyboard too.
    await goTo("Inventory");
    await tabTo("Import…");
    await page.keyboard.press("Enter");
    await tabTo("File");
    const chooser = page.waitForEvent("filechooser");
    await page.keyboard.press("Space");
    await (await chooser).setFiles({
      name: "rack5000.csv",
      mimeType: "text/csv",
      buffer: Buffer.from(
        "xname,role,nid,mac,groups\nx5000c0s0b0n0,Application,501,02:00:00:50:00:00,rack5000\n",
      ),
    });
    await tabTo("Import 1 component");
    await page.keyboard.press("Enter");
    await expect
      .poll(() => page.locator(".import .notice-ok").textContent())
      .toContain("Imported 1 component");

    // Boot parameters for the role; a select takes the first letters of an option.
    await goTo("Boot");
    await tabTo("New boot parameters");
    await page.keyboard.press("Enter");
    await tabTo("Id (optional)");
    await page.keyboard.type("kbd-app");
    await tabTo("For");
    await page.keyboard.type("a r");
    await tabTo("Role");
    await page.keyboard.type("Appl");
    await tabTo("Kernel URL");
    await page.keyboard.type("http://images.example/app/vmlinuz");
    await page.keyboard.press("Enter");
    await page.getByRole("row", { name: /kbd-app.*role Application/ }).waitFor();
    await tabTo("Node (id, MAC or NID)");
    await page.keyboard.type("02:00:00:50:00:00");
    await page.keyboard.press("Enter");
    await expect.poll(() => page.getByLabel("Boot script").textContent()).toContain("app/vmlinuz");

    // A cloud-init payload for the role, and the node's merged user-data.
    await goTo("Cloud-init");
    await tabTo("New payload");
    await page.keyboard.press("Enter");
    await tabTo("Role");
    await page.keyboard.type("Appl");
    await tabTo("user-data");
    await page.keyboard.type("#cloud-config\nhostname: app-node\n");
    await tabTo("Create");
    await page.keyboard.press("Enter");
    await page.getByRole("row", { name: /role Application/ }).waitFor();
    await tabTo("Node id");
    await page.keyboard.type("x5000c0s0b0n0");
    await page.keyboard.press("Enter");
    await expect
      .poll(() => page.getByLabel("user-data", { exact: true }).last().textContent())
      .toContain("hostname: app-node");

    // The rack's group powered on; the transition is followed on the page.
    await goTo("Power");
    await page.locator("option", { hasText: "rack5000" }).waitFor({ state: "attached" });
    await tabTo("Group");
    await page.keyboard.type("rack5");
    await page.getByRole("row", { name: /x5000c0s0b0n0/ }).waitFor();
    await tabTo("Power on 1 node");
    await page.keyboard.press("Enter");
    await page.locator("section[aria-labelledby='follow-h']").waitFor();

    // And the dashboard shows what was done.
    await goTo("Dashboard");
    await expect.poll(() => page.locator(".changes").textContent()).toMatch(/kbd-app/);
    expect(errors).toEqual([]);
    expect((await t.call("DELETE", "/boot/v1/bootparams/kbd-app")).status).toBe(204);
  }, 120_000);

  it("logs out: the session ends and every page asks to log in again", async () => {
    const { page, context, errors } = await open();
    await logIn(page, url, admin.id, admin.secret);
    const cookie = (await context.cookies()).find((c) => c.name === "chamicore-session");
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: "Strict" });
    expect(await page.evaluate<string>("document.cookie")).toBe("");
    await page.getByRole("button", { name: "Log out" }).click();
    await page.getByRole("button", { name: "Log in" }).waitFor();
    await page.goto(`${url}/ui/#/inventory`);
    await page.getByRole("button", { name: "Log in" }).waitFor();
    // The old cookie's token is revoked, not only forgotten.
    const replay = await fetch(`${url}/hsm/v2/State/Components`, {
      headers: { Cookie: `${cookie!.name}=${cookie!.value}` },
    });
    expect(replay.status).toBe(401);
    await expectAccessible(page, "login");
    expect(errors).toEqual([]);
  });
});

describe("the UI's size", () => {
  it("loads under 250 KB of JavaScript and CSS, gzipped, before anything loaded on demand", () => {
    const ui = join(import.meta.dirname, "../../dist/assets/ui");
    const initial = initialAssets(readFileSync(join(ui, "index.html"), "utf8"));
    expect(initial.filter((f) => f.endsWith(".js"))).toHaveLength(1);
    expect(initial.filter((f) => f.endsWith(".css"))).toHaveLength(1);
    const bytes = initial.reduce((sum, f) => sum + gzipSync(readFileSync(join(ui, f))).byteLength, 0);
    expect(bytes).toBeGreaterThan(10_000);
    expect(bytes).toBeLessThan(250_000);
  });
});
