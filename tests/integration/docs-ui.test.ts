/**
 * The API docs UI works offline: the page and the Swagger UI assets come from
 * the server itself (no CDN), and a real headless Chromium renders the
 * operation list without any request leaving the server's origin.
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningControl, startControl } from "../../control/node/serve";
import { silentLogger } from "../../shared/log";
import { type Target, workerTarget } from "../support/targets";

const CHROMIUM = "/usr/bin/chromium";
const SCREENSHOT = "/tmp/docs-ui.png";

let dir: string;
let server: RunningControl;
beforeAll(async () => {
  // startControl directly (not nodePgliteTarget) because the browser needs the server's URL.
  dir = mkdtempSync(join(tmpdir(), "chamicore-docs-"));
  server = await startControl({ CHAMICORE_LISTEN: "127.0.0.1:0", CHAMICORE_DATA_DIR: dir }, silentLogger);
});
afterAll(async () => {
  await server?.close();
  rmSync(dir, { recursive: true, force: true });
});

const get = (path: string) => fetch(server.url + path);

describe("docs page and assets", () => {
  it("/api/docs is HTML that references only local assets", async () => {
    const res = await get("/api/docs");
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(/^text\/html/);
    const html = await res.text();
    const refs = [...html.matchAll(/\b(?:src|href)\s*=\s*["']([^"']*)["']/gi)].map((m) => m[1]!);
    expect(refs.length).toBeGreaterThanOrEqual(2);
    expect(refs.filter((r) => !r.startsWith("/"))).toEqual([]);
    expect(html).not.toMatch(/https?:\/\//);
  });

  it.each([
    ["/api/docs/swagger-ui-bundle.js", /^text\/javascript/, 500_000],
    ["/api/docs/swagger-ui.css", /^text\/css/, 50_000],
    ["/api/docs/init.js", /^text\/javascript/, 20],
  ])("%s is served locally", async (path, type, minBytes) => {
    const res = await get(path);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(type);
    expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(minBytes);
  });
});

describe("docs assets on the Worker", () => {
  let t: Target;
  beforeAll(async () => {
    t = await workerTarget();
  });
  afterAll(() => t?.stop());

  it.each([
    ["/api/docs/swagger-ui-bundle.js", /javascript/, 500_000],
    ["/api/docs/swagger-ui.css", /^text\/css/, 50_000],
    ["/api/docs/init.js", /^text\/javascript/, 20],
    ["/api/docs", /^text\/html/, 100],
  ])("%s is served by the Worker's host, not from its bundle", async (path, type, minBytes) => {
    const res = await t.fetch(path);
    expect(res.status).toBe(200);
    expect(res.headers.get("content-type")).toMatch(type);
    expect((await res.arrayBuffer()).byteLength).toBeGreaterThan(minBytes);
  });
});

describe.skipIf(!existsSync(CHROMIUM))("Swagger UI in headless Chromium", () => {
  let browser: Browser;
  beforeAll(async () => {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    });
  });
  afterAll(async () => {
    await browser?.close();
  });

  it("renders the operation list with no request leaving the server", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1600 } });
    const requests: string[] = [];
    const errors: string[] = [];
    page.on("request", (r) => requests.push(r.url()));
    page.on("console", (m) => {
      // The browser's own /favicon.ico probe 404s; that is not the UI's doing.
      if (m.type() === "error" && !m.location().url.endsWith("/favicon.ico")) errors.push(m.text());
    });
    page.on("pageerror", (e) => errors.push(e.message));

    await page.goto(`${server.url}/api/docs`);
    await page.locator(".opblock").first().waitFor({ timeout: 30_000 });
    await expect(page.getByText("Create a component").first().isVisible()).resolves.toBe(true);
    expect(await page.locator(".opblock").count()).toBeGreaterThan(20);
    await page.screenshot({ path: SCREENSHOT, fullPage: true });
    await page.close();

    expect(requests).toContain(`${server.url}/api/openapi.json`);
    const foreign = requests.filter((u) => !u.startsWith(`${server.url}/`) && !u.startsWith("data:"));
    expect(foreign).toEqual([]);
    expect(errors, "console errors (CSP violations, script errors)").toEqual([]);
  });
});
