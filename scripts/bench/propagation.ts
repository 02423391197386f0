/**
 * Change propagation (docs/benchmarks.md): time from an API mutation's
 * answer to a real `chamicore edge` process serving the change, over
 * BENCH_CHANGES changes made one after the other. The site has BENCH_NODES
 * compute nodes; each change gives one node boot parameters of its own
 * (a new kernel), and the time runs until that node's boot script, fetched
 * from the edge every millisecond, names the new kernel.
 *
 *   npm run bench:propagation                                   # 200 changes over 50,000 nodes
 *   BENCH_NODES=1000 BENCH_CHANGES=20 npm run bench:propagation   # smoke
 */
import { percentile } from "./lib/load";
import { caughtUp, endProgress, msf, nodeId, nodeMac, openSite, progress, sec, until } from "./lib/site";

const NODES = Number(process.env.BENCH_NODES ?? 50_000);
const CHANGES = Number(process.env.BENCH_CHANGES ?? 200);

const site = await openSite({ label: "propagation" });
try {
  console.log(`site: control plane on ${site.db}, events over ${site.events}`);
  await site.api("POST", "/boot/v1/bootparams", {
    id: "bp-compute",
    role: "Compute",
    kernelUri: "http://images.example/compute/vmlinuz-6.1",
  });
  let t = performance.now();
  await site.importNodes(0, NODES);
  console.log(`seeded ${NODES} nodes in ${sec(performance.now() - t)}`);
  t = performance.now();
  const edge = await site.startEdge();
  const script = async (i: number) =>
    (await fetch(`${edge.url}/boot/v1/bootscript?mac=${nodeMac(i)}`).catch(() => undefined))?.text();
  await until("the edge serving the last node", async () =>
    Boolean((await script(NODES - 1))?.includes(`chamicore.id=${nodeId(NODES - 1)} `)),
  );
  await caughtUp(edge, site.events);
  console.log(`edge replicated ${NODES} nodes and caught up in ${sec(performance.now() - t)}`);
  // One untimed change first: a new durable consumer replays the last minute of the stream
  // (the import's events) before it reaches new ones; that start-up is not the steady state.
  t = performance.now();
  const warm = "http://images.example/warm-up/vmlinuz";
  await site.api("POST", "/boot/v1/bootparams", { componentId: nodeId(0), kernelUri: warm });
  await until("the warm-up change at the edge", async () => Boolean((await script(0))?.includes(warm)));
  console.log(`first change after the start reached the edge in ${sec(performance.now() - t)} (not counted)`);

  const lat: number[] = [];
  for (let k = 0; k < CHANGES; k++) {
    const i = Math.floor(((k + 0.5) * NODES) / CHANGES) || 1;
    const kernel = `http://images.example/nodes/${nodeId(i)}/vmlinuz-${k}`;
    await site.api("POST", "/boot/v1/bootparams", { componentId: nodeId(i), kernelUri: kernel });
    // From the API's answer: what an operator sees as "done" at the control plane.
    const answered = performance.now();
    await until(
      `change ${k} at the edge`,
      async () => Boolean((await script(i))?.includes(kernel)),
      30_000,
      1,
    );
    lat.push(performance.now() - answered);
    progress(`${k + 1}/${CHANGES} changes`);
  }
  endProgress();
  const sorted = Float64Array.from(lat).sort();
  console.log(
    `propagation over ${CHANGES} changes (${site.events}): p50 ${msf(percentile(sorted, 50))}, p99 ${msf(percentile(sorted, 99))}, max ${msf(percentile(sorted, 100))}`,
  );
  console.log(
    `summary: propagation nodes=${NODES} changes=${CHANGES} events=${site.events} p50=${msf(percentile(sorted, 50))} p99=${msf(percentile(sorted, 99))} max=${msf(percentile(sorted, 100))}`,
  );
} finally {
  await site.close();
}
