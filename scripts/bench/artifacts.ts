/**
 * A rack fetching its boot image at once (issue 17): an initrd of
 * BENCH_ARTIFACT_MB (50) MB, uploaded to the control plane and cached by an
 * edge, fetched whole by BENCH_CLIENTS (100) nodes at the same moment, each
 * on a connection of its own; and the same file from nginx (sendfile on),
 * the way a site's web server would serve it, in the same run. Rounds
 * (BENCH_ROUNDS, 3) alternate the two. The servers run on one core, the
 * clients on the other (when the machine allows pinning).
 *
 * Per candidate, medians over the rounds: aggregate MB/s from the first
 * request to the last byte of the last node, each node's time to its last
 * byte (median and p99), and the server's CPU time per GB sent (the steadiest
 * figure: loopback throughput is bounded by whichever side saturates its
 * core first, and the generator's own CPU per GB is printed to show which).
 * Every answer is checked for its status and length, and one per round for
 * its SHA-256.
 *
 *   npm run bench:artifacts                                        # full size
 *   BENCH_EDGE_EXE=dist/chamicore-edge npm run bench:artifacts     # the executable (default when built)
 *   BENCH_ARTIFACT_MB=4 BENCH_CLIENTS=10 BENCH_ROUNDS=1 npm run bench:artifacts   # smoke
 */
import { createHash, randomBytes } from "node:crypto";
import { existsSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { join, resolve } from "node:path";
import { type Ceiling, nginxAvailable, startNginxFiles } from "./lib/ceilings";
import { allowedCpus, cpuMicros, pinGenerator, pinningUnavailable, SERVER_CPU } from "./lib/cpu";
import { percentile } from "./lib/load";
import { type Edge, openSite, until } from "./lib/site";

const MB = Number(process.env.BENCH_ARTIFACT_MB ?? 50);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 100);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const EXE = resolve(process.env.BENCH_EDGE_EXE ?? "dist/chamicore-edge");
const NAME = "initrd-bench.img";

interface Round {
  seconds: number;
  mbps: number;
  p50: number;
  p99: number;
  /** Server CPU µs per GB sent, and the generator's. */
  serverCpuPerGb: number;
  clientCpuPerGb: number;
  errors: string[];
}

/** One node's fetch: time to the last byte in ms, or why it failed. */
function fetchWhole(url: string, size: number, digest?: string): Promise<number | string> {
  const t0 = performance.now();
  return new Promise((resolveFetch) => {
    const req = request(url, { agent: false }, (res) => {
      const hash = digest ? createHash("sha256") : undefined;
      let got = 0;
      res.on("data", (chunk: Buffer) => {
        got += chunk.length;
        hash?.update(chunk);
      });
      res.on("end", () => {
        if (res.statusCode !== 200) return resolveFetch(`HTTP ${res.statusCode}`);
        if (got !== size) return resolveFetch(`${got} bytes of ${size}`);
        if (hash && hash.digest("hex") !== digest) return resolveFetch("wrong sha256");
        resolveFetch(performance.now() - t0);
      });
      res.on("error", (e) => resolveFetch(e.message));
    });
    req.on("error", (e) => resolveFetch(e.message));
    req.end();
  });
}

async function round(url: string, pid: number, size: number, digest: string): Promise<Round> {
  const server0 = cpuMicros(pid);
  const client0 = process.cpuUsage();
  const t0 = performance.now();
  const answers = await Promise.all(
    Array.from({ length: CLIENTS }, (_, i) => fetchWhole(url, size, i === 0 ? digest : undefined)),
  );
  const seconds = (performance.now() - t0) / 1000;
  const serverUs = cpuMicros(pid) - server0;
  const c = process.cpuUsage(client0);
  const times = answers.filter((a): a is number => typeof a === "number").sort((a, b) => a - b);
  const gb = (CLIENTS * size) / 1e9;
  return {
    seconds,
    mbps: (times.length * size) / 1e6 / seconds,
    p50: percentile(times, 50),
    p99: percentile(times, 99),
    serverCpuPerGb: serverUs / gb,
    clientCpuPerGb: (c.user + c.system) / gb,
    errors: answers.filter((a): a is string => typeof a === "string"),
  };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)]!;
};

const unavailable = pinningUnavailable();
const site = await openSite({ label: "artifacts" });
const ceilings: Ceiling[] = [];
let edge: Edge | undefined;
try {
  console.log(`site: control plane on ${site.db}, events over ${site.events}`);
  const body = randomBytes(MB * 1_000_000);
  const digest = createHash("sha256").update(body).digest("hex");
  await site.api("POST", "/boot/v1/artifacts", {
    name: NAME,
    sha256: digest,
    size: body.length,
    kind: "initrd",
  });
  const up = await fetch(`${site.control.url}/boot/v1/artifacts/${NAME}/content`, {
    method: "PUT",
    headers: { Authorization: `Bearer ${await site.token()}`, "Content-Type": "application/octet-stream" },
    body,
  });
  if (up.status !== 200) throw new Error(`upload: HTTP ${up.status} ${await up.text()}`);
  await site.api("POST", "/boot/v1/bootparams", {
    isDefault: true,
    kernelUri: "http://images.example/vmlinuz",
    initrd: { artifact: NAME },
  });

  if (unavailable) console.log(`pinning: none, ${unavailable}; clients and servers share every core`);
  else {
    pinGenerator();
    console.log(
      `pinning: servers on CPU ${SERVER_CPU} (taskset, from their exec), the clients on CPU ${allowedCpus(process.pid).join(",")}`,
    );
  }

  const exe = existsSync(EXE);
  // Progress to the control plane once an hour: its control plane shares the clients' process.
  edge = await site.startEdge({ CHAMICORE_EDGE_PROGRESS_SECONDS: "3600" }, exe ? { exe: EXE } : {});
  const edgeName = exe ? "edge (executable)" : "edge (node)";
  const t = performance.now();
  await until("the edge to cache the initrd", async () => {
    const s = (await (await fetch(`${edge!.url}/status`)).json()) as { artifacts?: { wantedCached: number } };
    return s.artifacts?.wantedCached === 1;
  });
  console.log(`${edgeName} cached and verified ${MB} MB in ${((performance.now() - t) / 1000).toFixed(2)} s`);

  const candidates: { name: string; key: string; url: string; pid: number; rounds: Round[] }[] = [
    {
      name: edgeName,
      key: "edge",
      url: `${edge.url}/boot/v1/artifacts/${digest}/${NAME}`,
      pid: edge.pid,
      rounds: [],
    },
  ];
  if (nginxAvailable()) {
    const nginx = await startNginxFiles((www) => writeFileSync(join(www, NAME), body), 1);
    ceilings.push(nginx);
    candidates.push({
      name: "nginx (sendfile)",
      key: "nginx",
      url: `http://127.0.0.1:${nginx.port}/${NAME}`,
      pid: nginx.pid,
      rounds: [],
    });
  } else console.log("nginx: not installed (apt-get install nginx-light): no ceiling");

  for (let r = 0; r < ROUNDS; r++)
    for (const c of r % 2 === 0 ? candidates : [...candidates].reverse()) {
      const out = await round(c.url, c.pid, body.length, digest);
      c.rounds.push(out);
      console.log(
        `round ${r + 1} ${c.name}: ${out.mbps.toFixed(0)} MB/s, node p50 ${out.p50.toFixed(0)} ms p99 ${out.p99.toFixed(0)} ms, server CPU ${(out.serverCpuPerGb / 1000).toFixed(0)} ms/GB, clients ${(out.clientCpuPerGb / 1000).toFixed(0)} ms/GB${out.errors.length ? `, ${out.errors.length} errors: ${out.errors[0]}` : ""}`,
      );
    }

  const mem = edge.memory();
  console.log(
    `edge memory after the rounds: RSS ${mem.rssMiB.toFixed(0)} MiB, peak ${mem.peakMiB.toFixed(0)} MiB`,
  );
  const m = (c: (typeof candidates)[number], f: (r: Round) => number) => median(c.rounds.map(f));
  console.log(`\n${CLIENTS} nodes fetching ${MB} MB each, medians of ${ROUNDS} rounds:`);
  for (const c of candidates)
    console.log(
      `  ${c.name.padEnd(20)} ${m(c, (r) => r.mbps)
        .toFixed(0)
        .padStart(
          6,
        )} MB/s  node p50 ${m(c, (r) => r.p50).toFixed(0)} ms  p99 ${m(c, (r) => r.p99).toFixed(0)} ms  server CPU ${(m(c, (r) => r.serverCpuPerGb) / 1000).toFixed(0)} ms/GB`,
    );
  const errors = candidates.reduce((n, c) => n + c.rounds.reduce((k, r) => k + r.errors.length, 0), 0);
  const [e, n] = candidates;
  const ratio = n
    ? ` mbps-vs-nginx=${(m(e!, (r) => r.mbps) / m(n, (r) => r.mbps)).toFixed(2)} cpu-per-gb-vs-nginx=${(m(e!, (r) => r.serverCpuPerGb) / m(n, (r) => r.serverCpuPerGb)).toFixed(2)}`
    : "";
  console.log(
    `summary: artifacts mb=${MB} clients=${CLIENTS} rounds=${ROUNDS} pinning=${unavailable ? "none" : `server-cpu${SERVER_CPU}`} | ${candidates.map((c) => `${c.key}=${m(c, (r) => r.mbps).toFixed(0)}MB/s`).join(" ")}${ratio} edge-peak-rss=${mem.peakMiB.toFixed(0)}MiB errors=${errors}`,
  );
  if (errors > 0) process.exitCode = 1;
} finally {
  await edge?.stop();
  for (const c of ceilings) await c.stop();
  await site.close();
}
