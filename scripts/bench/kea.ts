/**
 * Kea sync benchmark, against a real kea-dhcp4 and kea-ctrl-agent (Debian's
 * 2.2: the config-get/test/set/write strategy) started on loopback by the
 * test harness, a control plane on embedded PGlite and an edge node in this
 * process, following the change feed.
 *
 * 1. Empty start: BENCH_RESERVATIONS nodes are in the inventory, Kea has
 *    none, the edge starts with an empty replica. Time until Kea's running
 *    configuration holds all of them (snapshot + one reconcile).
 * 2. One change: an interface's address is changed through the API. Time
 *    until Kea holds the new address (median of BENCH_CHANGES).
 * 3. Burst: BENCH_RESERVATIONS more nodes are imported while the edge runs.
 *    Time until Kea holds them all, and how many writes that took.
 *
 *   npm run bench:kea                              # 10,000 reservations
 *   BENCH_RESERVATIONS=1000 npm run bench:kea      # smoke run
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startControl } from "../../control/node/serve";
import { startEdge } from "../../edge-node/node/serve";
import { generateMasterKey, randomSecret } from "../../shared/auth/crypto";
import { createLogger, silentLogger } from "../../shared/log";
import { requestToken } from "../../shared/node/cli/session";
import { startKea } from "../../tests/support/kea";

const N = Number(process.env.BENCH_RESERVATIONS ?? 10_000);
const CHANGES = Number(process.env.BENCH_CHANGES ?? 5);
const BATCH = 10_000;
if (N * 2 > 60_000) throw new Error("BENCH_RESERVATIONS must be at most 30,000 (one /16 holds the two sets)");

const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const ip = (i: number) => `10.214.${Math.floor((i + 1) / 250)}.${((i + 1) % 250) + 1}`;
const mac = (i: number) =>
  `02:10:${[(i >> 24) & 255, (i >> 16) & 255, (i >> 8) & 255, i & 255].map((b) => b.toString(16).padStart(2, "0")).join(":")}`;
const node = (i: number) => ({
  id: `n${i}`,
  type: "Node",
  role: "Compute",
  interfaces: [{ macAddress: mac(i), ipAddresses: [{ ipAddress: ip(i) }] }],
});

const dirs: string[] = [];
const tmp = (p: string) => {
  const d = mkdtempSync(join(tmpdir(), p));
  dirs.push(d);
  return d;
};

const kea = await startKea({ dhcp4: { subnet4: [{ id: 1, subnet: "10.214.0.0/16" }] } });
const admin = { id: "bench-admin", secret: randomSecret(24) };
const control = await startControl(
  {
    CHAMICORE_LISTEN: "127.0.0.1:0",
    CHAMICORE_DATA_DIR: tmp("chamicore-bench-kea-"),
    CHAMICORE_MASTER_KEY: generateMasterKey(),
    CHAMICORE_BOOTSTRAP_CLIENT_ID: admin.id,
    CHAMICORE_BOOTSTRAP_CLIENT_SECRET: admin.secret,
  },
  silentLogger,
);
let edge: Awaited<ReturnType<typeof startEdge>> | undefined;
try {
  const token = (await requestToken(control.url, { grant_type: "client_credentials" }, admin)).token;
  const api = async (method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
    const res = await fetch(control.url + path, {
      method,
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    if (res.status >= 300)
      throw new Error(`${method} ${path}: ${res.status} ${(await res.text()).slice(0, 300)}`);
    return res.json() as Promise<{ spec: { clientSecret: string } }>;
  };
  const importNodes = async (from: number, to: number) => {
    for (let start = from; start < to; start += BATCH) {
      const components = [];
      for (let i = start; i < Math.min(to, start + BATCH); i++) components.push(node(i));
      await api("POST", "/hsm/v2/import", { components });
    }
  };
  /** Chamicore's reservations in Kea's running configuration (one config-get). */
  const inKea = async () => {
    const a = await kea.command("config-get");
    const rs = (a.arguments.Dhcp4.subnet4[0].reservations ?? []) as Record<string, string>[];
    return new Map(rs.map((r) => [r["hw-address"], r["ip-address"]]));
  };
  const edgeKea = async () =>
    ((await (await fetch(`${edge!.url}/status`)).json()) as { kea: Record<string, unknown> }).kea;
  const metric = async (name: string) =>
    Number(
      (await (await fetch(`${edge!.url}/metrics`)).text())
        .split("\n")
        .find((l) => l.startsWith(`${name} `))
        ?.split(" ")
        .at(-1) ?? 0,
    );
  const until = async (what: string, check: () => Promise<boolean>, ms = 600_000) => {
    const deadline = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
      await new Promise((r) => setTimeout(r, 25));
    }
  };

  const sa = await api("POST", "/auth/v1/service-accounts", { id: "bench-edge", roles: ["edge"] });
  let t = performance.now();
  await importNodes(0, N);
  console.log(`inventory: ${N} nodes imported in ${sec(performance.now() - t)}`);

  // 1. Empty start.
  t = performance.now();
  edge = await startEdge(
    {
      CHAMICORE_CONTROL_URL: control.url,
      CHAMICORE_EDGE_CLIENT_ID: "bench-edge",
      CHAMICORE_EDGE_CLIENT_SECRET: sa.spec.clientSecret,
      CHAMICORE_EDGE_DATA_DIR: tmp("chamicore-bench-edge-"),
      CHAMICORE_EDGE_LISTEN: "127.0.0.1:0",
      CHAMICORE_EDGE_POLL_SECONDS: "0.1",
      KEA_CONTROL_URL: kea.url,
    },
    // BENCH_LOG=1 shows the edge's log, with where each write's time went.
    { logger: process.env.BENCH_LOG ? createLogger({ level: "info" }) : silentLogger },
  );
  await until("all reservations in Kea", async () => (await edgeKea()).reservations === N);
  const emptyStart = performance.now() - t;
  const held = await inKea();
  if (held.size !== N || held.get(mac(N - 1)) !== ip(N - 1))
    throw new Error(`Kea holds ${held.size} reservations, expected ${N}`);
  console.log(
    `empty start: ${N} reservations in Kea ${sec(emptyStart)} after the edge started (last reconcile ${(await edgeKea()).lastDurationMs} ms)`,
  );

  // 2. One change at a time.
  const changes: number[] = [];
  for (let k = 0; k < CHANGES; k++) {
    const i = Math.floor((k + 0.5) * (N / CHANGES));
    const to = ip(2 * N + k); // free: above both sets
    const before = (await edgeKea()).lastWriteAt;
    t = performance.now();
    await api(
      "PATCH",
      `/hsm/v2/Inventory/EthernetInterfaces/${mac(i).replaceAll(":", "")}`,
      { ipAddresses: [{ ipAddress: to }] },
      { "Content-Type": "application/merge-patch+json" },
    );
    await until("the change in Kea", async () => (await edgeKea()).lastWriteAt !== before, 60_000);
    changes.push(performance.now() - t);
    if ((await inKea()).get(mac(i)) !== to) throw new Error(`Kea does not hold ${to} for ${mac(i)}`);
  }
  changes.sort((a, b) => a - b);
  const median = changes[Math.floor(changes.length / 2)]!;
  console.log(
    `one change: median ${sec(median)} from the API call to Kea (${changes.map((c) => sec(c)).join(", ")}), ${N} reservations held`,
  );

  // 3. Burst into a running edge.
  const writes = await metric('chamicore_edge_kea_writes_total{result="ok"}');
  t = performance.now();
  await importNodes(N, 2 * N);
  const imported = performance.now() - t;
  await until("the burst in Kea", async () => (await edgeKea()).reservations === 2 * N);
  const burst = performance.now() - t;
  const used = (await metric('chamicore_edge_kea_writes_total{result="ok"}')) - writes;
  if ((await inKea()).size !== 2 * N) throw new Error("Kea does not hold the burst");
  console.log(
    `burst: ${N} more nodes in Kea ${sec(burst)} after the import began (import ${sec(imported)}), in ${used} write(s)`,
  );
  console.log(
    `summary: kea reservations=${N} empty-start=${sec(emptyStart)} one-change-median=${sec(median)} burst-of-${N}=${sec(burst)} writes=${used}`,
  );
} finally {
  await edge?.close();
  await control.close();
  await kea.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
}
