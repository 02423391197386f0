/**
 * Inventory at scale (docs/benchmarks.md): a control plane over the
 * machine's Postgres (a throwaway database; DATABASE_URL to choose another,
 * embedded PGlite when no Postgres answers), BENCH_NODES components with an
 * interface and an address each, bulk-imported through the API in batches
 * of 10,000; then BENCH_GETS single-component GETs one after the other and
 * filtered list pages of 1,000, over real HTTP with a token.
 *
 *   npm run bench:inventory                                  # 50,000 components
 *   BENCH_NODES=2000 BENCH_GETS=500 npm run bench:inventory  # smoke
 */
import { percentile } from "./lib/load";
import { endProgress, msf, nodeId, openSite, progress, sec } from "./lib/site";

const NODES = Number(process.env.BENCH_NODES ?? 50_000);
const GETS = Number(process.env.BENCH_GETS ?? 5_000);
const PAGE = Math.min(1000, NODES);
const PAGES = Number(process.env.BENCH_PAGES ?? 50);

const site = await openSite({ label: "inventory" });
try {
  const auth = { Authorization: `Bearer ${await site.token()}` };
  const t = performance.now();
  const batches = await site.importNodes(0, NODES, (n) => progress(`imported ${n}/${NODES}`));
  endProgress();
  const importMs = performance.now() - t;
  console.log(
    `bulk import of ${NODES} components (${batches.length} batches of up to 10,000, ${site.db}): ${sec(importMs)} (batches ${batches.map((b) => sec(b)).join(", ")})`,
  );

  // Reads are timed once the relay has published the import's events (in this same process).
  await site.relayed();
  const timed = async (path: string) => {
    const t0 = performance.now();
    const res = await fetch(`${site.control.url}${path}`, { headers: auth });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`GET ${path}: ${res.status}`);
    return performance.now() - t0;
  };
  // Warm up the connection pool and the JIT before timing.
  for (let k = 0; k < 100; k++) await timed(`/hsm/v2/State/Components/${nodeId(k)}`);
  const gets: number[] = [];
  for (let k = 0; k < GETS; k++)
    gets.push(await timed(`/hsm/v2/State/Components/${nodeId(Math.floor(Math.random() * NODES))}`));
  const g = Float64Array.from(gets).sort();
  const pages: number[] = [];
  for (let k = 0; k < PAGES; k++)
    pages.push(
      await timed(
        `/hsm/v2/State/Components?role=Compute&type=Node&limit=${PAGE}&offset=${((k * PAGE) % NODES) - (((k * PAGE) % NODES) % PAGE)}`,
      ),
    );
  const p = Float64Array.from(pages).sort();
  const mean = gets.reduce((a, b) => a + b, 0) / gets.length;
  console.log(
    `single GET over ${NODES} components (${GETS} one after the other): p50 ${msf(percentile(g, 50))}, p99 ${msf(percentile(g, 99))}, max ${msf(percentile(g, 100))}, ${(1000 / mean).toFixed(0)} req/s`,
  );
  console.log(
    `filtered list page of ${PAGE} (role=Compute&type=Node, ${PAGES} pages): p50 ${msf(percentile(p, 50))}, p99 ${msf(percentile(p, 99))}`,
  );
  console.log(
    `summary: inventory ${site.db} nodes=${NODES} import=${sec(importMs)} GET p50=${msf(percentile(g, 50))} p99=${msf(percentile(g, 99))} ${(1000 / mean).toFixed(0)} req/s; page-of-${PAGE} p99=${msf(percentile(p, 99))}`,
  );
} finally {
  await site.close();
}
