/**
 * Inventory benchmark: bulk-imports BENCH_NODES components (each with one
 * interface) in batches of 10,000, then times single-component GETs and a
 * filtered list over real HTTP. Runs on the embedded database unless
 * DATABASE_URL is set. Prints its figures; the last line is the summary.
 *
 *   npm run bench:inventory                       # 50,000 components, PGlite
 *   BENCH_NODES=2000 BENCH_GETS=500 npm run bench:inventory   # smoke run
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { requestToken } from "../../control/cli/session";
import { startControl } from "../../control/node/serve";
import { generateMasterKey, randomSecret } from "../../shared/auth/crypto";
import { silentLogger } from "../../shared/log";

const NODES = Number(process.env.BENCH_NODES ?? 50_000);
const GETS = Number(process.env.BENCH_GETS ?? 5_000);
const BATCH = 10_000;

const pct = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const ms = (n: number) => `${n.toFixed(2)} ms`;

const dir = mkdtempSync(join(tmpdir(), "chamicore-bench-"));
const admin = { id: "bench-admin", secret: randomSecret(24) };
const running = await startControl(
  {
    CHAMICORE_LISTEN: "127.0.0.1:0",
    CHAMICORE_DATA_DIR: dir,
    CHAMICORE_MASTER_KEY: generateMasterKey(),
    CHAMICORE_BOOTSTRAP_CLIENT_ID: admin.id,
    CHAMICORE_BOOTSTRAP_CLIENT_SECRET: admin.secret,
    ...(process.env.DATABASE_URL ? { DATABASE_URL: process.env.DATABASE_URL } : {}),
  },
  silentLogger,
);
const db = process.env.DATABASE_URL ? "postgres" : "pglite";
try {
  const auth = {
    Authorization: `Bearer ${(await requestToken(running.url, { grant_type: "client_credentials" }, admin)).token}`,
  };
  const id = (i: number) => `x${1000 + Math.floor(i / 256)}c0s${Math.floor((i % 256) / 8)}b0n${i % 8}`;
  const mac = (i: number) =>
    `02:00:${[(i >> 24) & 255, (i >> 16) & 255, (i >> 8) & 255, i & 255].map((b) => b.toString(16).padStart(2, "0")).join(":")}`;

  const importTimes: number[] = [];
  for (let start = 0; start < NODES; start += BATCH) {
    const components = [];
    for (let i = start; i < Math.min(NODES, start + BATCH); i++)
      components.push({ id: id(i), role: "Compute", nid: i + 1, interfaces: [{ macAddress: mac(i) }] });
    const t0 = performance.now();
    const res = await fetch(`${running.url}/hsm/v2/import`, {
      method: "POST",
      headers: { "Content-Type": "application/json", ...auth },
      body: JSON.stringify({ components }),
    });
    if (res.status !== 201)
      throw new Error(`import failed: ${res.status} ${(await res.text()).slice(0, 300)}`);
    importTimes.push(performance.now() - t0);
    console.log(
      `imported ${Math.min(NODES, start + BATCH)}/${NODES} (batch of ${components.length} in ${ms(importTimes.at(-1)!)})`,
    );
  }

  const lat: number[] = [];
  for (let k = 0; k < GETS; k++) {
    const i = Math.floor(Math.random() * NODES);
    const t0 = performance.now();
    const res = await fetch(`${running.url}/hsm/v2/State/Components/${id(i)}`, { headers: auth });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`GET ${id(i)}: ${res.status}`);
    lat.push(performance.now() - t0);
  }
  lat.sort((a, b) => a - b);

  const listLat: number[] = [];
  for (let k = 0; k < 50; k++) {
    const t0 = performance.now();
    const res = await fetch(
      `${running.url}/hsm/v2/State/Components?role=Compute&limit=100&offset=${k * 100}`,
      { headers: auth },
    );
    await res.arrayBuffer();
    listLat.push(performance.now() - t0);
  }
  listLat.sort((a, b) => a - b);

  const perImport = importTimes.reduce((a, b) => a + b, 0) / importTimes.length;
  console.log(
    `single GET over ${NODES} components (${GETS} sequential, ${db}): p50 ${ms(pct(lat, 50))}, p99 ${ms(pct(lat, 99))}, max ${ms(lat.at(-1)!)}`,
  );
  console.log(
    `filtered list page of 100 (with total): p50 ${ms(pct(listLat, 50))}, p99 ${ms(pct(listLat, 99))}`,
  );
  console.log(
    `summary: inventory ${db} nodes=${NODES} import ${ms(perImport)}/batch of ${Math.min(BATCH, NODES)}; GET ${(1000 / (lat.reduce((a, b) => a + b, 0) / lat.length)).toFixed(0)} req/s sequential, p99 ${ms(pct(lat, 99))}`,
  );
} finally {
  await running.close();
  rmSync(dir, { recursive: true, force: true });
}
