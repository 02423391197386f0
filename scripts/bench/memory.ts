/**
 * The edge's memory with a big replica (issue 15: < 150 MB steady and at
 * peak), without the timing loads of scripts/bench/boot.ts: a control plane
 * with BENCH_NODES compute nodes (as boot.ts seeds them), then each edge in
 * turn, alone: the single executable (BENCH_EDGE_EXE, default
 * dist/chamicore-edge), `chamicore edge` on Node and, given
 * BENCH_EDGE_BEFORE, the edge of another checkout or another executable. For each, its RSS
 * once it replicated the snapshot and caught up, while it holds BENCH_IDLE
 * idle keep-alive connections, its peak (VmHWM) over all that, and the
 * same after a restart on its replicated data. Anonymous memory (heap and
 * allocator) and file-backed memory (the executable's own pages) are
 * shown apart, from /proc/<pid>/smaps_rollup.
 *
 *   npm run bench:memory                                # full size, both edges
 *   BENCH_MEMORY_EDGES=exe npm run bench:memory         # only the executable
 *   BENCH_EDGE_BEFORE=../before npm run bench:memory    # and the edge of another checkout
 *   BENCH_NODES=2000 BENCH_IDLE=500 npm run bench:memory   # smoke
 */
import { existsSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { errorCount, firstAnswer, holdIdle } from "./lib/load";
import {
  caughtUp,
  type Edge,
  type EdgeCommand,
  edgeBefore,
  nodeId,
  nodeMac,
  openSite,
  sec,
  seedBootSite,
  until,
} from "./lib/site";

const NODES = Number(process.env.BENCH_NODES ?? 50_000);
const IDLE = Number(process.env.BENCH_IDLE ?? 10_000);
const EXE = resolve(process.env.BENCH_EDGE_EXE ?? "dist/chamicore-edge");
const EDGES = (process.env.BENCH_MEMORY_EDGES ?? "exe,node").split(",");
const BEFORE = process.env.BENCH_EDGE_BEFORE ? resolve(process.env.BENCH_EDGE_BEFORE) : undefined;
/** The issue's memory target, 150 MB, in MiB (the unit /proc reports in). */
const RSS_LIMIT_MIB = 150e6 / 2 ** 20;
/** How long an edge is left alone before its steady memory is read. */
const SETTLE_MS = 3000;

const bootPath = (i: number) => `/boot/v1/bootscript?mac=${nodeMac(i)}`;
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A process's memory in MiB: resident, its peak, and the resident part that is anonymous. */
function memoryOf(pid: number) {
  const kib = (text: string, key: string) =>
    Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(text)?.[1] ?? 0);
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  return {
    rss: kib(status, "VmRSS") / 1024,
    peak: kib(status, "VmHWM") / 1024,
    anon: kib(rollup, "Anonymous") / 1024,
  };
}
const shown = (m: ReturnType<typeof memoryOf>) =>
  `${m.rss.toFixed(0)} MiB (anonymous ${m.anon.toFixed(0)}, file ${(m.rss - m.anon).toFixed(0)})`;

interface Figures {
  /** Idle connections answered after the hold, and failed requests before or after it. */
  idle: number;
  errors: number;
  steady: number;
  holding: number;
  peak: number;
  restarted: number;
  restartedPeak: number;
}

const site = await openSite({ label: "memory" });
try {
  console.log(`site: control plane on ${site.db}, events over ${site.events}`);
  await seedBootSite(site, NODES);

  const last = NODES - 1;
  const lastCheck = (status: number, body: string) =>
    status === 200 && body.includes(`chamicore.id=${nodeId(last)} `) ? undefined : `HTTP ${status}`;
  const candidates: [key: string, name: string, EdgeCommand][] = [];
  if (EDGES.includes("exe")) {
    if (!existsSync(EXE)) throw new Error(`${EXE}: no such file (npm run build:edge)`);
    candidates.push(["exe", `edge executable (${EXE})`, { exe: EXE }]);
  }
  if (EDGES.includes("node")) candidates.push(["node", "edge (chamicore edge on Node)", {}]);
  if (BEFORE) {
    const { command, label } = edgeBefore(BEFORE);
    candidates.push(["before", label, command]);
  }

  const results: [string, Figures][] = [];
  for (const [key, name, command] of candidates) {
    const started = performance.now();
    let edge: Edge = await site.startEdge({}, command);
    await until(`${name} serving the last node`, async () => {
      const res = await fetch(`${edge.url}${bootPath(last)}`).catch(() => undefined);
      return !!res && !lastCheck(res.status, await res.text());
    });
    await caughtUp(edge, site.events);
    console.log(`\n${name}: replicated ${NODES} nodes in ${sec(performance.now() - started)}`);
    await pause(SETTLE_MS);
    const steady = memoryOf(edge.pid);
    console.log(`  steady after replicating: ${shown(steady)}; peak so far ${steady.peak.toFixed(0)} MiB`);

    let holding = steady;
    const ep = { host: new URL(edge.url).hostname, port: Number(new URL(edge.url).port) };
    // The highest resident size seen in each phase, sampled every 10 ms (the peak's own figure,
    // VmHWM, does not say when it was reached).
    const phases = new Map<string, number>();
    let phase = "open";
    const pid = edge.pid;
    const sampler = setInterval(() => {
      const rss = memoryOf(pid).rss;
      phases.set(phase, Math.max(phases.get(phase) ?? 0, rss));
    }, 10);
    const held = await holdIdle(ep, {
      connections: IDLE,
      holdMs: 2000,
      request: (i) => ({ path: bootPath(i % NODES) }),
      during: async () => {
        holding = memoryOf(edge.pid);
      },
      phase: (p) => {
        phase = p;
      },
    });
    await pause(500);
    clearInterval(sampler);
    const errors = errorCount(held.first) + errorCount(held.second);
    console.log(
      `  holding ${held.opened} idle keep-alive connections (answered ${held.second.ok} after the hold, errors ${errors}): ${shown(holding)}`,
    );
    await pause(SETTLE_MS);
    const after = memoryOf(edge.pid);
    console.log(`  after they closed: ${shown(after)}; peak over the run ${after.peak.toFixed(0)} MiB`);
    const named = {
      open: "opening them",
      hold: "holding",
      again: "all asking again at once",
      close: "closing",
    };
    console.log(
      `  highest sampled while ${[...phases].map(([p, mib]) => `${named[p as keyof typeof named]} ${mib.toFixed(0)}`).join(", ")} MiB`,
    );

    const { ready } = await edge.restart();
    await firstAnswer(ep, { path: bootPath(last) }, lastCheck);
    edge = await ready;
    await caughtUp(edge, site.events);
    await pause(SETTLE_MS);
    const restarted = memoryOf(edge.pid);
    console.log(
      `  restarted on its data: ${shown(restarted)}; peak since the restart ${restarted.peak.toFixed(0)} MiB`,
    );
    await edge.stop();
    results.push([
      key,
      {
        idle: held.second.ok,
        errors,
        steady: steady.rss,
        holding: holding.rss,
        peak: after.peak,
        restarted: restarted.rss,
        restartedPeak: restarted.peak,
      },
    ]);
  }

  const mark = (ok: boolean) => (ok ? "PASS" : "FAIL");
  console.log(
    `\nsummary: memory nodes=${NODES} idle=${IDLE} | ${results
      .map(
        ([key, f]) =>
          `${key}: steady=${f.steady.toFixed(0)} holding-idle=${f.holding.toFixed(0)} peak=${f.peak.toFixed(0)} restarted=${f.restarted.toFixed(0)} restarted-peak=${f.restartedPeak.toFixed(0)} MiB ${mark(Math.max(f.steady, f.holding, f.peak, f.restarted, f.restartedPeak) < RSS_LIMIT_MIB)} idle=${f.idle}/${IDLE} errors=${f.errors}`,
      )
      .join(" | ")}`,
  );
} finally {
  await site.close();
}
