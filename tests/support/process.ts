/**
 * Runs `chamicore` as a user would: a child process of the real bin, with
 * its environment, its log lines and its exit code.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { createServer } from "node:net";
import { join } from "node:path";

export const BIN = join(process.cwd(), "control/node/bin.mjs");

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      s.close(() => (typeof addr === "object" && addr ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

export interface Proc {
  child: ChildProcess;
  output: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/**
 * The edge under test: the single executable when CHAMICORE_TEST_EDGE_EXE
 * names it (`npm run test:edge-exe` builds it and runs the edge suites so),
 * else `chamicore edge` on Node.
 */
export const EDGE_EXE = process.env.CHAMICORE_TEST_EDGE_EXE || undefined;

/** `nodeArgs` go to node itself, before the bin (e.g. `--cpu-prof`). */
export function run(args: string[], env: Record<string, string>, nodeArgs: string[] = []): Proc {
  // `chamicore-edge …` is `chamicore edge …`.
  return EDGE_EXE && args[0] === "edge"
    ? spawnProc(EDGE_EXE, args.slice(1), env)
    : spawnProc(process.execPath, [...nodeArgs, BIN, ...args], env);
}

/** Spawns `file` with only `env` (and PATH, HOME), collecting what it prints. */
export function spawnProc(file: string, args: string[], env: Record<string, string>): Proc {
  const child = spawn(file, args, {
    env: { PATH: process.env.PATH ?? "", HOME: process.env.HOME ?? "/tmp", ...env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  child.stdout!.on("data", (d) => {
    out += d;
  });
  child.stderr!.on("data", (d) => {
    out += d;
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    child.on("exit", (code, signal) => resolve({ code, signal })),
  );
  return { child, output: () => out, exited };
}

/** Starts `chamicore serve` and waits for its "listening" log line. */
export function serve(env: Record<string, string>, timeoutMs = 60_000): Promise<Proc & { url: string }> {
  return startBin(["serve"], env, "control plane listening", timeoutMs);
}

/** Starts `chamicore edge` and waits for its "listening" log line. */
export function edge(
  env: Record<string, string>,
  args: string[] = [],
  timeoutMs = 60_000,
  nodeArgs: string[] = [],
) {
  return startBin(["edge", ...args], env, "chamicore edge listening", timeoutMs, nodeArgs);
}

/** Starts the bin with `args` and waits for the JSON log line containing `ready`; its `url` is returned. */
export function startBin(
  args: string[],
  env: Record<string, string>,
  ready: string,
  timeoutMs = 60_000,
  nodeArgs: string[] = [],
): Promise<Proc & { url: string }> {
  return untilLogged(run(args, env, nodeArgs), args[0]!, ready, timeoutMs);
}

/**
 * Waits for `p`'s JSON log line containing `ready` and returns its `url`;
 * `name` says which process in errors. Polls every `everyMs`.
 */
export async function untilLogged(
  p: Proc,
  name: string,
  ready: string,
  timeoutMs = 60_000,
  everyMs = 100,
): Promise<Proc & { url: string }> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const line = p
      .output()
      .split("\n")
      .find((l) => l.includes(ready));
    if (line) return { ...p, url: JSON.parse(line).url };
    if (p.child.exitCode !== null) throw new Error(`${name} exited early:\n${p.output()}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
  p.child.kill("SIGKILL");
  throw new Error(`${name} did not start in ${timeoutMs} ms:\n${p.output()}`);
}
