/**
 * CPU pinning and CPU time for the benchmarks. On a 2-core machine the
 * generator and the server fight for the same cores unless each has its own:
 * the benchmark pins itself (the generator) to CPU 0 and starts every server
 * on CPU 1, so a server's figures are what one core gives it, and its CPU
 * time per request (from /proc) is the steadiest figure of all.
 */
import { execFileSync } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";

/** The generator's CPU and the servers' CPU when pinned. */
export const GENERATOR_CPU = 0;
export const SERVER_CPU = 1;

function taskset(args: string[]) {
  execFileSync("taskset", args, { stdio: "ignore" });
}

/** Why pinning is not possible here, or undefined when it is. */
export function pinningUnavailable(): string | undefined {
  try {
    execFileSync("taskset", ["-V"], { stdio: "ignore" });
  } catch {
    return "taskset is missing (apt-get install util-linux)";
  }
  const cpus = allowedCpus(process.pid);
  if (!cpus.includes(GENERATOR_CPU) || !cpus.includes(SERVER_CPU))
    return `this process may run only on CPUs ${cpus.join(",")}`;
  return undefined;
}

let pinned = false;

/** Pins every thread of this process (the generator) to GENERATOR_CPU; servers spawned from now on start on SERVER_CPU. */
export function pinGenerator() {
  taskset(["-a", "-p", "-c", String(GENERATOR_CPU), String(process.pid)]);
  pinned = true;
}

/**
 * Runs `spawn` (which must start its process synchronously) with this
 * process's main thread on SERVER_CPU: a child inherits the affinity of the
 * thread that forks it, so the server is pinned from its first instruction,
 * its threads and its own children (nginx's workers) too. Before
 * pinGenerator() it only runs `spawn`.
 */
export function spawnOnServerCpu<T>(spawn: () => T): T {
  if (!pinned) return spawn();
  // Without -a, taskset sets only the thread whose id is the pid: the main thread.
  taskset(["-p", "-c", String(SERVER_CPU), String(process.pid)]);
  try {
    return spawn();
  } finally {
    taskset(["-p", "-c", String(GENERATOR_CPU), String(process.pid)]);
  }
}

/** The CPUs process `pid` may run on (its Cpus_allowed_list). */
export function allowedCpus(pid: number): number[] {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const list = /^Cpus_allowed_list:\s*(.+)$/m.exec(status)?.[1] ?? "";
  return list.split(",").flatMap((part) => {
    const [a, b] = part.split("-").map(Number);
    return b === undefined ? [a!] : Array.from({ length: b - a! + 1 }, (_, k) => a! + k);
  });
}

const TICK_US = 1e6 / Number(execFileSync("getconf", ["CLK_TCK"]).toString().trim() || 100);

function childrenOf(pid: number): number[] {
  try {
    return readdirSync(`/proc/${pid}/task`).flatMap((tid) =>
      readFileSync(`/proc/${pid}/task/${tid}/children`, "utf8").split(" ").filter(Boolean).map(Number),
    );
  } catch {
    return [];
  }
}

/**
 * User plus system CPU time of process `pid` and its live descendants (all
 * their threads), in µs, from /proc/<pid>/stat (utime + stime).
 */
export function cpuMicros(pid: number): number {
  let ticks = 0;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    ticks = Number(fields[11]) + Number(fields[12]);
  } catch {
    return 0;
  }
  return ticks * TICK_US + childrenOf(pid).reduce((sum, c) => sum + cpuMicros(c), 0);
}
