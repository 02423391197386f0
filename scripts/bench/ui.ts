/**
 * The web UI's inventory view at scale (docs/benchmarks.md): a control plane
 * over the machine's Postgres (as scripts/bench/inventory.ts) with
 * BENCH_NODES components (default 50,000), BENCH_HALTED of them Halt, and
 * Debian's Chromium driven by playwright-core. Timed, BENCH_RUNS times each:
 *
 * - first page: a fresh browser context (no cache, no session cookie but the
 *   login's) opens /ui/#/inventory, until the first 50 rows and the total
 *   are painted;
 * - filter: on that page, choosing State = Halt until its rows and count are
 *   painted, then back to any state;
 * - dashboard: /ui/#/ until the inventory is counted and every rack drawn;
 * - rack grid: on the dashboard, a rack's "Show each node" until its nodes
 *   are drawn cell by cell (above 2,000 nodes a grid is drawn on request;
 *   below, the dashboard draws them all and this is not timed).
 *
 * Prints medians, p90 and max, beside the API's own time for the same list
 * requests, and the size of the UI's JavaScript and CSS gzipped.
 *
 *   npm run bench:ui                                   # 50,000 components
 *   BENCH_NODES=2000 BENCH_RUNS=3 npm run bench:ui     # smoke
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { type Browser, chromium } from "playwright-core";
import { percentile } from "./lib/load";
import { endProgress, msf, nodeId, openSite, progress, sec } from "./lib/site";

const NODES = Number(process.env.BENCH_NODES ?? 50_000);
const HALTED = Math.min(NODES, Number(process.env.BENCH_HALTED ?? 200));
const RUNS = Number(process.env.BENCH_RUNS ?? 15);
const CHROMIUM = process.env.CHROMIUM ?? execFileSync("which", ["chromium"], { encoding: "utf8" }).trim();

const stats = (xs: number[]) => {
  const s = Float64Array.from(xs).sort();
  return `median ${msf(percentile(s, 50))}, p90 ${msf(percentile(s, 90))}, max ${msf(percentile(s, 100))}`;
};

const site = await openSite({ label: "ui" });
let browser: Browser | undefined;
try {
  const t = performance.now();
  await site.importNodes(0, NODES, (n) => progress(`imported ${n}/${NODES}`));
  for (let i = 0; i < HALTED; i++) {
    await site.api("PATCH", `/hsm/v2/State/Components/${nodeId(Math.floor((i * NODES) / HALTED))}`, {
      state: "Halt",
    });
    if (i % 50 === 0) progress(`halted ${i}/${HALTED}`);
  }
  endProgress();
  console.log(`${NODES} components (${HALTED} Halt) in ${site.db}: ready in ${sec(performance.now() - t)}`);
  await site.relayed();

  browser = await chromium.launch({ executablePath: CHROMIUM });
  const url = site.control.url;
  const total = NODES.toLocaleString("en");
  const firstPage: number[] = [];
  const filter: number[] = [];
  const dashboard: number[] = [];
  const rackGrid: number[] = [];
  const racks = Math.ceil(NODES / 256);
  const firstRack = Math.min(256, NODES);
  for (let run = -1; run < RUNS; run++) {
    // A fresh context each run: nothing cached, logged in as a person would be.
    const context = await browser.newContext({ viewport: { width: 1280, height: 800 } });
    const page = await context.newPage();
    await page.goto(`${url}/ui/#/login`);
    await page.getByLabel("Client id").fill(site.admin.id);
    await page.getByLabel("Client secret").fill(site.admin.secret);
    await page.getByRole("button", { name: "Log in" }).click();
    await page.getByRole("heading", { level: 1, name: "Dashboard" }).waitFor();
    await page.goto("about:blank");
    const status = page.getByRole("status").filter({ hasText: " of " });
    const rows = page.locator("table.list tbody tr");

    let t0 = performance.now();
    await page.goto(`${url}/ui/#/inventory`);
    await status.filter({ hasText: `1–50 of ${total}` }).waitFor();
    await rows.nth(49).waitFor();
    const painted = performance.now() - t0;

    t0 = performance.now();
    await page.getByLabel("State").selectOption("Halt");
    await status.filter({ hasText: `of ${HALTED.toLocaleString("en")}` }).waitFor();
    const filtered = performance.now() - t0;
    await page.getByLabel("State").selectOption("");
    await status.filter({ hasText: `of ${total}` }).waitFor();

    t0 = performance.now();
    await page.goto(`${url}/ui/#/`);
    await page.locator(".card").first().filter({ hasText: total }).waitFor();
    await page
      .locator(".racks > li")
      .nth(racks - 1)
      .waitFor();
    const counted = performance.now() - t0;
    let drawn = Number.NaN;
    const cells = page.getByRole("list", { name: "Rack x1000: each node by state" }).getByRole("link");
    if (NODES > 2000) {
      t0 = performance.now();
      await page.getByRole("button", { name: "Show each node" }).first().click();
      await cells.nth(firstRack - 1).waitFor();
      drawn = performance.now() - t0;
    } else await cells.nth(firstRack - 1).waitFor();
    await context.close();
    // The first run warms the server, the browser and the database: not counted.
    if (run >= 0) {
      firstPage.push(painted);
      filter.push(filtered);
      dashboard.push(counted);
      if (!Number.isNaN(drawn)) rackGrid.push(drawn);
    }
    progress(`run ${run + 1}/${RUNS}`);
  }
  endProgress();

  const auth = { Authorization: `Bearer ${await site.token()}` };
  const api = async (query: string) => {
    const times: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t1 = performance.now();
      const res = await fetch(`${url}/hsm/v2/State/Components?${query}`, { headers: auth });
      await res.arrayBuffer();
      times.push(performance.now() - t1);
    }
    return stats(times);
  };
  // What the page loads before it runs (the import parser is loaded only when a file is chosen).
  const ui = join(import.meta.dirname, "../../dist/assets/ui");
  const gz = [
    ...readFileSync(join(ui, "index.html"), "utf8").matchAll(
      /(?:src|href)="\/ui\/(assets\/[^"]+\.(?:js|css))"/g,
    ),
  ]
    .map((m) => m[1]!)
    .reduce((sum, f) => sum + gzipSync(readFileSync(join(ui, f))).byteLength, 0);

  console.log(`inventory view, first page of 50 painted (fresh context, over ${total}): ${stats(firstPage)}`);
  console.log(`inventory view, State = Halt filtered and painted (${HALTED} match): ${stats(filter)}`);
  console.log(`dashboard, counted with its ${racks} racks drawn: ${stats(dashboard)}`);
  if (rackGrid.length)
    console.log(`dashboard, one rack's ${firstRack} nodes drawn on request: ${stats(rackGrid)}`);
  console.log(`  the API alone, first page: ${await api("limit=50&offset=0&sort=id")}`);
  console.log(`  the API alone, Halt filter: ${await api("limit=50&offset=0&sort=id&state=Halt")}`);
  console.log(`UI JavaScript + CSS loaded first, gzipped: ${(gz / 1024).toFixed(1)} KiB (budget 250 KB)`);
} finally {
  await browser?.close();
  await site.close();
}
