/**
 * A benchmark site: a control plane (in this process, over a throwaway
 * database on the machine's Postgres, else embedded PGlite), its change
 * stream on the machine's NATS JetStream (a stream of its own, deleted
 * afterwards; polling when NATS is not there), an inventory of `nodes`
 * compute nodes seeded through the API, and edge nodes started as real
 * `chamicore edge` processes. Everything it makes it removes in `close()`.
 */
import { type ChildProcess, execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect } from "@nats-io/transport-node";
import { type RunningControl, startControl } from "../../../control/node/serve";
import { generateMasterKey, randomSecret } from "../../../shared/auth/crypto";
import { silentLogger } from "../../../shared/log";
import { requestToken } from "../../../shared/node/cli/session";
import { deleteStream, SHARED_NATS_URL, uniqueStream } from "../../../tests/support/nats";
import { createTestDatabase, type TestDatabase } from "../../../tests/support/postgres";
import { type Proc, spawnProc, edge as startEdgeProcess, untilLogged } from "../../../tests/support/process";
import { spawnOnServerCpu } from "./cpu";
import { nodeAddress } from "./load";

const BATCH = 10_000;
/** How long an edge may take to stop after SIGTERM. */
const STOP_MS = 15_000;

/** Node `i`'s xname, MAC and (IPv4) address. */
export const nodeId = (i: number) =>
  `x${1000 + Math.floor(i / 256)}c${Math.floor((i % 256) / 64)}s${Math.floor((i % 64) / 8)}b0n${i % 8}`;
export const nodeMac = (i: number) =>
  `02:00:${[(i >> 24) & 255, (i >> 16) & 255, (i >> 8) & 255, i & 255].map((b) => b.toString(16).padStart(2, "0")).join(":")}`;
export const nodeComponent = (i: number) => ({
  id: nodeId(i),
  type: "Node",
  role: "Compute",
  nid: i + 1,
  interfaces: [{ macAddress: nodeMac(i), ipAddresses: [{ ipAddress: nodeAddress(i) }] }],
});

/** A progress line rewritten in place on a terminal; nothing in a pipe or a log. */
export function progress(text: string) {
  if (process.stdout.isTTY) process.stdout.write(`\r${text}\x1b[K`);
}
/** Ends a progress line before the next printed one. */
export const endProgress = () => progress("");

export const sec = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
export const msf = (n: number) => (Number.isNaN(n) ? "n/a" : `${n.toFixed(n < 10 ? 2 : 1)} ms`);

export interface Edge {
  url: string;
  pid: number;
  child: ChildProcess;
  /** Resident memory now and its peak, in MiB, from /proc. */
  memory(): { rssMiB: number; peakMiB: number };
  stop(): Promise<void>;
  /**
   * Stops this edge and starts it again on the same data directory and
   * port. `spawnedAt` is performance.now() just before the exec (the
   * process is spawned before restart() returns); `ready` resolves once it
   * logged that it listens.
   */
  restart(): Promise<{ spawnedAt: number; ready: Promise<Edge> }>;
}

/**
 * How an edge is started: `chamicore edge` from this checkout (the default),
 * the single executable at `exe`, or `chamicore edge` from another
 * `checkout` (e.g. a worktree of the commit before a change, to measure
 * before and after side by side).
 */
export interface EdgeCommand {
  exe?: string;
  checkout?: string;
}

/**
 * BENCH_EDGE_BEFORE: another checkout (its `chamicore edge` on Node) or
 * another build of the single executable, to measure beside this one.
 */
export function edgeBefore(path: string): { command: EdgeCommand; label: string } {
  if (existsSync(path) && statSync(path).isFile())
    return { command: { exe: path }, label: `edge before (executable ${path})` };
  if (existsSync(join(path, "control/node/bin.mjs")))
    return { command: { checkout: path }, label: `edge before (chamicore edge in ${path})` };
  throw new Error(
    `BENCH_EDGE_BEFORE=${path}: neither an executable nor a checkout (no control/node/bin.mjs)`,
  );
}

export interface Site {
  control: RunningControl;
  /** The bootstrap admin's client id and secret (a browser logs in with them). */
  admin: { id: string; secret: string };
  db: "postgres" | "pglite";
  events: "nats" | "polling";
  /** An admin's access token. */
  token(): Promise<string>;
  api<T = unknown>(
    method: string,
    path: string,
    body?: unknown,
    headers?: Record<string, string>,
  ): Promise<T>;
  /** Imports nodes [from, to) in batches of 10,000; returns the ms each batch took. */
  importNodes(from: number, to: number, progress?: (done: number) => void): Promise<number[]>;
  startEdge(extraEnv?: Record<string, string>, command?: EdgeCommand): Promise<Edge>;
  /** Waits until the relay has published every outbox event (a bulk import's 100,000 take a while). */
  relayed(): Promise<void>;
  close(): Promise<void>;
}

type Started = Proc & { url: string };

/**
 * Spawns an edge (synchronously: the process exists when this returns) and
 * resolves once it logged that it listens.
 */
function launchEdge(env: Record<string, string>, command: EdgeCommand): Promise<Started> {
  if (!command.exe && !command.checkout) {
    // BENCH_EDGE_NODE_ARGS: flags for the edge's node, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof" to profile it under load.
    const nodeArgs = (process.env.BENCH_EDGE_NODE_ARGS ?? "").split(" ").filter(Boolean);
    return startEdgeProcess(env, [], 60_000, nodeArgs);
  }
  // Either gets the environment `chamicore edge` gets from tests/support/process.ts.
  const [file, args] = command.exe
    ? [command.exe, []]
    : [process.execPath, [join(command.checkout!, "control/node/bin.mjs"), "edge"]];
  const name = command.exe ?? `chamicore edge in ${command.checkout}`;
  return untilLogged(spawnProc(file, args, env), name, "chamicore edge listening", 60_000, 20);
}

/** Memory of a process from /proc/<pid>/status, in MiB. */
export function processMemory(pid: number) {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+)`, "m").exec(status)?.[1] ?? 0);
  return { rssMiB: kib("VmRSS") / 1024, peakMiB: kib("VmHWM") / 1024 };
}

async function natsReachable(url: string) {
  try {
    const nc = await connect({ servers: url, reconnect: false, timeout: 1000 });
    await nc.close();
    return true;
  } catch {
    return false;
  }
}

export async function openSite(opts: { label: string }): Promise<Site> {
  // The edge runs from the bundled CLI (dist/cli): rebuilt first when a source changed since.
  execFileSync(process.execPath, ["scripts/build-cli.mjs", "--if-stale"], { stdio: "inherit" });
  const dirs: string[] = [];
  const tmp = (p: string) => {
    const d = mkdtempSync(join(tmpdir(), p));
    dirs.push(d);
    return d;
  };
  const cleanups: (() => Promise<unknown>)[] = [];

  let databaseUrl = process.env.DATABASE_URL;
  if (!databaseUrl) {
    const created: TestDatabase | undefined = await createTestDatabase(`bench_${opts.label}`).catch(
      (e: Error) => {
        console.log(`(no Postgres at 127.0.0.1:5432: ${e.message}; using embedded PGlite)`);
        return undefined;
      },
    );
    if (created) {
      databaseUrl = created.url;
      cleanups.push(() => created.drop());
    }
  }
  const nats = (await natsReachable(SHARED_NATS_URL)) ? uniqueStream(`bench_${opts.label}`) : undefined;
  if (nats) cleanups.push(() => deleteStream(SHARED_NATS_URL, nats.stream));
  else console.log(`(no NATS at ${SHARED_NATS_URL}: edges poll the change feed)`);
  const eventsEnv: Record<string, string> = nats
    ? {
        NATS_URL: SHARED_NATS_URL,
        CHAMICORE_NATS_STREAM: nats.stream,
        CHAMICORE_NATS_SUBJECT_PREFIX: nats.prefix,
      }
    : {};

  const admin = { id: "bench-admin", secret: randomSecret(24) };
  const control = await startControl(
    {
      CHAMICORE_LISTEN: "127.0.0.1:0",
      CHAMICORE_DATA_DIR: tmp("chamicore-bench-control-"),
      CHAMICORE_MASTER_KEY: generateMasterKey(),
      CHAMICORE_BOOTSTRAP_CLIENT_ID: admin.id,
      CHAMICORE_BOOTSTRAP_CLIENT_SECRET: admin.secret,
      ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
      ...eventsEnv,
    },
    silentLogger,
  );
  const token = (await requestToken(control.url, { grant_type: "client_credentials" }, admin)).token;

  const api = async <T>(
    method: string,
    path: string,
    body?: unknown,
    headers: Record<string, string> = {},
  ) => {
    const res = await fetch(control.url + path, {
      method,
      headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json", ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    if (res.status >= 300) throw new Error(`${method} ${path}: ${res.status} ${text.slice(0, 300)}`);
    return (text ? JSON.parse(text) : undefined) as T;
  };

  const edges: Edge[] = [];
  let edgeAccount: { id: string; secret: string } | undefined;
  const site: Site = {
    control,
    admin,
    db: databaseUrl ? "postgres" : "pglite",
    events: nats ? "nats" : "polling",
    token: async () => token,
    api,
    async importNodes(from, to, progress) {
      const times: number[] = [];
      for (let start = from; start < to; start += BATCH) {
        const components = [];
        for (let i = start; i < Math.min(to, start + BATCH); i++) components.push(nodeComponent(i));
        const t = performance.now();
        await api("POST", "/hsm/v2/import", { components });
        times.push(performance.now() - t);
        progress?.(Math.min(to, start + BATCH) - from);
      }
      return times;
    },
    async startEdge(extraEnv = {}, command = {}) {
      if (!edgeAccount) {
        const sa = await api<{ spec: { clientSecret: string } }>("POST", "/auth/v1/service-accounts", {
          id: "bench-edge",
          roles: ["edge"],
        });
        edgeAccount = { id: "bench-edge", secret: sa.spec.clientSecret };
      }
      const env = {
        CHAMICORE_CONTROL_URL: control.url,
        CHAMICORE_EDGE_CLIENT_ID: edgeAccount.id,
        CHAMICORE_EDGE_CLIENT_SECRET: edgeAccount.secret,
        CHAMICORE_EDGE_DATA_DIR: tmp("chamicore-bench-edge-"),
        CHAMICORE_EDGE_LISTEN: "127.0.0.1:0",
        CHAMICORE_EDGE_NAME: `bench-${process.pid}-${edges.length}`,
        ...eventsEnv,
        ...(nats ? {} : { CHAMICORE_EDGE_POLL_SECONDS: "0.1" }),
        ...extraEnv,
      };
      const launch = (env: Record<string, string>) => {
        const spawnedAt = performance.now();
        const started = spawnOnServerCpu(() => launchEdge(env, command));
        const ready = started.then((p) => {
          const pid = p.child.pid!;
          const edge: Edge = {
            url: p.url,
            pid,
            child: p.child,
            memory: () => processMemory(pid),
            async stop() {
              if (p.child.exitCode === null) p.child.kill("SIGTERM");
              // An edge that does not stop must not hang the benchmark: say so, with its last words, and kill it.
              let timer: NodeJS.Timeout | undefined;
              const late = new Promise<"late">((r) => {
                timer = setTimeout(() => r("late"), STOP_MS);
              });
              const stopped = await Promise.race([p.exited, late]);
              clearTimeout(timer);
              if (stopped !== "late") return;
              console.error(
                `(edge pid ${pid} did not stop ${STOP_MS / 1000} s after SIGTERM; killed. Its last output:\n${p.output().split("\n").slice(-8).join("\n")})`,
              );
              p.child.kill("SIGKILL");
              await p.exited;
            },
            async restart() {
              await edge.stop();
              edges.splice(edges.indexOf(edge), 1);
              return launch({ ...env, CHAMICORE_EDGE_LISTEN: new URL(p.url).host });
            },
          };
          edges.push(edge);
          return edge;
        });
        return { spawnedAt, ready };
      };
      return launch(env).ready;
    },
    async relayed() {
      if (!nats) return;
      const auth = { Authorization: `Bearer ${token}` };
      await until(
        "the relay published the outbox",
        async () => {
          const head = (
            (await (
              await fetch(`${control.url}/events/v1/changes?after=0&limit=1`, { headers: auth })
            ).json()) as {
              metadata: { head: number };
            }
          ).metadata.head;
          const metrics = await (await fetch(`${control.url}/metrics`, { headers: auth })).text();
          const published = Number(/^chamicore_outbox_published_position (\d+)/m.exec(metrics)?.[1] ?? 0);
          return published >= head;
        },
        600_000,
        200,
      );
    },
    async close() {
      for (const e of edges) await e.stop().catch(() => {});
      await control.close();
      for (const c of cleanups.reverse()) await c().catch(() => {});
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    },
  };
  return site;
}

/**
 * The boot benchmarks' site: `nodes` compute nodes (interfaces, addresses),
 * the Compute role's boot params and its cloud-init payload, every event
 * relayed.
 */
export async function seedBootSite(site: Site, nodes: number) {
  const t = performance.now();
  await site.api("POST", "/boot/v1/bootparams", {
    id: "bp-compute",
    role: "Compute",
    kernelUri: "http://images.example/compute/vmlinuz-6.1",
    initrdUri: "http://images.example/compute/initramfs-6.1.img",
    cmdline: "console=ttyS0,115200 root=live:http://images.example/compute/rootfs.squashfs",
  });
  await site.api("POST", "/cloud-init/payloads", {
    id: "compute",
    role: "Compute",
    userData: "#cloud-config\npackages: [chrony, munge]\nruncmd:\n  - [systemctl, enable, --now, munge]\n",
    vendorData: "#cloud-config\nntp:\n  servers: [ntp.bench.example]\n",
    metaData: { site: "bench" },
  });
  await site.importNodes(0, nodes, (n) => progress(`seeding: ${n}/${nodes} nodes`));
  endProgress();
  await site.relayed();
  console.log(
    `seeded ${nodes} nodes (interfaces, addresses, role params, role payload) in ${sec(performance.now() - t)}`,
  );
}

/**
 * Waits until the edge has applied everything it knows of and, with NATS,
 * follows the stream: a new consumer first repeats up to a minute of events
 * (a bulk import just before the edge started), which is not what a
 * benchmark of the steady state should time.
 */
export async function caughtUp(edge: Edge, events: Site["events"]) {
  await until(
    "the edge caught up",
    async () => {
      const s = (await (await fetch(`${edge.url}/status`)).json()) as {
        mode: string;
        position: number;
        head: number;
      };
      return s.position >= s.head && (events === "polling" || s.mode === "stream");
    },
    600_000,
    100,
  );
}

/** Polls `check` every `everyMs` until it holds, or throws after `ms`. */
export async function until(what: string, check: () => Promise<boolean>, ms = 600_000, everyMs = 25) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
