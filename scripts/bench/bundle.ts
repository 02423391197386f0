/**
 * An air-gapped edge at full size (docs/air-gapped.md, docs/benchmarks.md):
 * a control plane with BENCH_NODES nodes (default 50,000: interfaces,
 * addresses, role boot parameters naming a BENCH_KERNEL_MB kernel it
 * stores, a role payload); then, with real processes:
 *
 * 1. `chamicore export` of the whole site: time, size, the CLI's peak RSS;
 * 2. `chamicore edge import` into an empty data directory (the single
 *    executable when built, else Node): time and peak RSS;
 * 3. the edge started with no control URL: time to its first answer, and
 *    BENCH_VERIFY nodes (spread over the site) answered byte for byte as
 *    the control plane answers them (boot script, meta-data, user-data,
 *    vendor-data);
 * 4. BENCH_CHANGES changes (nodes added, deleted, given boot parameters of
 *    their own), `export --since` the edge's position, imported beside the
 *    running edge: times, size, and every changed node identical again;
 * 5. the edge restarted with the control URL and NATS: it follows from its
 *    position, with the count of snapshots it took (0 expected).
 *
 *   npm run bench:bundle
 *   BENCH_NODES=5000 BENCH_VERIFY=500 npm run bench:bundle      # smoke
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync, mkdtempSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { freePort, type Proc, run, spawnProc, untilLogged } from "../../tests/support/process";
import {
  endProgress,
  nodeComponent,
  nodeId,
  nodeMac,
  openSite,
  processMemory,
  progress,
  sec,
} from "./lib/site";

const NODES = Number(process.env.BENCH_NODES ?? 50_000);
const VERIFY = Number(process.env.BENCH_VERIFY ?? 2_000);
const CHANGES = Number(process.env.BENCH_CHANGES ?? 500);
const KERNEL_MB = Number(process.env.BENCH_KERNEL_MB ?? 20);
const EXE = resolve(process.env.BENCH_EDGE_EXE ?? "dist/chamicore-edge");
const BIN = resolve("control/node/bin.mjs");

const work = mkdtempSync(join(tmpdir(), "chamicore-bench-bundle-"));
const site = await openSite({ label: "bundle" });
const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`;

/** Runs a process to its end, sampling its peak RSS from /proc while it runs. */
async function measured(
  p: Proc,
): Promise<{ ms: number; peakMiB: number; code: number | null; output: string }> {
  const t = performance.now();
  let peakMiB = 0;
  const timer = setInterval(() => {
    try {
      peakMiB = Math.max(peakMiB, processMemory(p.child.pid!).peakMiB);
    } catch {
      // Exited between two samples.
    }
  }, 20);
  const { code } = await p.exited;
  clearInterval(timer);
  return { ms: performance.now() - t, peakMiB, code, output: p.output() };
}

const token = await site.token();
const cli = (args: string[]) =>
  spawnProc(process.execPath, [BIN, ...args], {
    CHAMICORE_ENDPOINT: site.control.url,
    CHAMICORE_TOKEN: token,
  });
const exe = existsSync(EXE);
const edgeCmd = (args: string[], env: Record<string, string>) =>
  exe ? spawnProc(EXE, args, env) : run(["edge", ...args], env);

const dataDir = join(work, "edge");
const keyFile = join(work, "bundle-key.json");
const edgeEnv = { CHAMICORE_EDGE_DATA_DIR: dataDir, CHAMICORE_EDGE_TRUSTED_KEYS: keyFile };
// Scripts name their base URL: the edge says the control plane's, so that the answers compare byte for byte.
const servingEnv = () => ({ CHAMICORE_EDGE_PUBLIC_URL: site.control.url });

/** Boot script and NoCloud documents of node `i` from `base`, the request id of a problem blanked. */
async function answersOf(base: string, i: number) {
  const text = async (r: Response) => `${r.status} ${(await r.text()).replace(/"requestId":"[^"]*"/, "")}`;
  const parts = [await text(await fetch(`${base}/boot/v1/bootscript?mac=${nodeMac(i)}`))];
  for (const doc of ["meta-data", "user-data", "vendor-data"])
    parts.push(await text(await fetch(`${base}/cloud-init/${nodeId(i)}/${doc}`)));
  return parts.join("\n");
}

/** How many of `nodes` the edge answers differently from the control plane. */
async function differing(edgeUrl: string, nodes: number[]) {
  let n = 0;
  for (const [k, i] of nodes.entries()) {
    if ((await answersOf(edgeUrl, i)) !== (await answersOf(site.control.url, i))) n++;
    if (k % 100 === 0) progress(`comparing ${k}/${nodes.length}`);
  }
  endProgress();
  return n;
}

let edge: (Proc & { url: string }) | undefined;
const startBundleEdge = async (extra: Record<string, string> = {}) => {
  const env = {
    ...edgeEnv,
    ...servingEnv(),
    CHAMICORE_EDGE_LISTEN: `127.0.0.1:${await freePort()}`,
    CHAMICORE_EDGE_NAME: "bench-dark",
    ...extra,
  };
  const t = performance.now();
  const p = await untilLogged(edgeCmd([], env), "edge", "chamicore edge listening", 120_000, 20);
  return { p, ms: performance.now() - t };
};
const stopEdge = async () => {
  if (!edge) return;
  edge.child.kill("SIGTERM");
  await edge.exited;
  edge = undefined;
};

try {
  console.log(
    `site: control plane on ${site.db}, events over ${site.events}; edge: ${exe ? EXE : "chamicore edge (node)"}`,
  );
  const kernel = randomBytes(KERNEL_MB * 2 ** 20);
  const sha = createHash("sha256").update(kernel).digest("hex");
  await site.api("POST", "/boot/v1/artifacts", {
    name: "vmlinuz-bench",
    sha256: sha,
    size: kernel.length,
    kind: "kernel",
  });
  const up = await fetch(`${site.control.url}/boot/v1/artifacts/vmlinuz-bench/content`, {
    method: "PUT",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/octet-stream" },
    body: kernel,
  });
  if (up.status !== 200) throw new Error(`upload: HTTP ${up.status}`);
  await site.api("POST", "/boot/v1/bootparams", {
    role: "Compute",
    kernel: { artifact: "vmlinuz-bench" },
    initrdUri: "http://images.example/compute/initramfs-6.1.img",
    cmdline: "console=ttyS0,115200 root=live:http://images.example/compute/rootfs.squashfs",
  });
  await site.api("POST", "/cloud-init/payloads", {
    role: "Compute",
    userData: "#cloud-config\npackages: [chrony, munge]\n",
    vendorData: "#cloud-config\nntp:\n  servers: [ntp.bench.example]\n",
  });
  const tSeed = performance.now();
  await site.importNodes(0, NODES, (n) => progress(`seeding: ${n}/${NODES} nodes`));
  endProgress();
  await site.relayed();
  console.log(`seeded ${NODES} nodes in ${sec(performance.now() - tSeed)}`);

  // 1. Export.
  const full = join(work, "site.tar.gz");
  const key = await measured(cli(["export", "--public-key", keyFile]));
  if (key.code !== 0) throw new Error(`export --public-key: ${key.output}`);
  const exported = await measured(cli(["export", full]));
  if (exported.code !== 0) throw new Error(`export: ${exported.output}`);
  console.log(
    `export: ${NODES} nodes and a ${KERNEL_MB} MiB kernel in ${sec(exported.ms)}, ${mib(statSync(full).size)} (CLI peak RSS ${exported.peakMiB.toFixed(0)} MiB)`,
  );

  // 2. Import into an empty edge.
  const imported = await measured(edgeCmd(["import", full], edgeEnv));
  if (imported.code !== 0) throw new Error(`import: ${imported.output}`);
  console.log(`import: ${sec(imported.ms)}, peak RSS ${imported.peakMiB.toFixed(0)} MiB`);

  // 3. Serve with no uplink.
  const started = await startBundleEdge();
  edge = started.p;
  console.log(`edge with no control URL: listening ${sec(started.ms)} after exec`);
  const step = Math.max(1, Math.floor(NODES / VERIFY));
  const sample = Array.from({ length: Math.min(VERIFY, NODES) }, (_, k) => k * step);
  const off = await differing(edge.url, sample);
  console.log(
    `byte-identical: ${sample.length - off}/${sample.length} nodes (boot script and three NoCloud documents each)`,
  );

  // 4. Changes, a delta, imported beside the running edge.
  const status = async () => (await (await fetch(`${edge!.url}/status`)).json()) as { position: number };
  const before = (await status()).position;
  const added = Math.floor(CHANGES * 0.3);
  const deleted = Math.floor(CHANGES * 0.2);
  const own = CHANGES - added - deleted;
  const t0 = performance.now();
  for (let i = NODES; i < NODES + added; i++)
    await site.api("POST", "/hsm/v2/State/Components", nodeComponent(i));
  for (let i = 0; i < deleted; i++) await site.api("DELETE", `/hsm/v2/State/Components/${nodeId(i)}`);
  for (let i = deleted; i < deleted + own; i++)
    await site.api("POST", "/boot/v1/bootparams", {
      componentId: nodeId(i),
      kernel: { artifact: "vmlinuz-bench" },
      cmdline: `own=${i}`,
    });
  console.log(`${CHANGES} changes made in ${sec(performance.now() - t0)}`);
  const delta = join(work, "delta.tar.gz");
  const dexp = await measured(cli(["export", delta, "--since", String(before), "--without-artifacts"]));
  if (dexp.code !== 0) throw new Error(`export --since: ${dexp.output}`);
  const dimp = await measured(edgeCmd(["import", delta], edgeEnv));
  if (dimp.code !== 0) throw new Error(`import delta: ${dimp.output}`);
  // The running edge notices the import's commit (it looks every second) and serves it from then on:
  // timed by the first node the delta added, until the edge answers it as the control plane does.
  const target = Number(/went from position \d+ to (\d+)/.exec(dimp.output)?.[1] ?? Number.NaN);
  const expected = await answersOf(site.control.url, NODES);
  const tServed = performance.now();
  while ((await answersOf(edge.url, NODES)) !== expected && performance.now() - tServed < 30_000)
    await new Promise((r) => setTimeout(r, 10));
  const noticed = performance.now() - tServed;
  const changed = [
    ...Array.from({ length: deleted + own }, (_, i) => i),
    ...Array.from({ length: added }, (_, j) => NODES + j),
  ];
  const left = await differing(edge.url, changed);
  console.log(
    `delta: export ${sec(dexp.ms)} (${mib(statSync(delta).size)}), import ${sec(dimp.ms)}; the running edge served position ${target} ${sec(noticed)} after the import ended; ${changed.length - left}/${changed.length} changed nodes answered identically`,
  );

  // 5. A link appears: follow live from the bundles' position.
  await stopEdge();
  const sa = await site.api<{ spec: { clientSecret: string } }>("POST", "/auth/v1/service-accounts", {
    id: "bench-dark",
    roles: ["edge"],
  });
  const live = await startBundleEdge({
    CHAMICORE_CONTROL_URL: site.control.url,
    CHAMICORE_EDGE_CLIENT_ID: "bench-dark",
    CHAMICORE_EDGE_CLIENT_SECRET: sa.spec.clientSecret,
  });
  edge = live.p;
  await site.api("POST", "/hsm/v2/State/Components", nodeComponent(NODES + added));
  const tLive = performance.now();
  while (performance.now() - tLive < 30_000 && (await differing(edge.url, [NODES + added])) > 0)
    await new Promise((r) => setTimeout(r, 100));
  const metrics = await (await fetch(`${edge.url}/metrics`)).text();
  const snapshots = /^chamicore_edge_snapshots_total (\d+)/m.exec(metrics)?.[1];
  console.log(
    `live: following the control plane from position ${(await status()).position}; snapshots taken: ${snapshots}`,
  );
  console.log(
    `summary: bundle nodes=${NODES} export=${sec(exported.ms)} size=${mib(statSync(full).size)} import=${sec(imported.ms)} import-peak-rss=${imported.peakMiB.toFixed(0)}MiB identical=${sample.length - off}/${sample.length} delta-changes=${CHANGES} delta-export=${sec(dexp.ms)} delta-import=${sec(dimp.ms)} delta-differing=${left} live-snapshots=${snapshots}`,
  );
} finally {
  await stopEdge();
  await site.close();
  rmSync(work, { recursive: true, force: true });
}
