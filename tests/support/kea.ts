/**
 * Real ISC Kea for tests: a private kea-dhcp4 (optionally inside a network
 * namespace, so it can serve DHCP on a veth without touching the host's
 * links) behind a private kea-ctrl-agent, a veth pair between two fresh
 * namespaces, and busybox `udhcpc` as the client that proves a reservation
 * or a boot option by a real DHCP exchange.
 *
 * Needs root (namespaces, raw sockets), iproute2, busybox and Kea 2.2.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "./process";

const execFileP = promisify(execFile);

export const KEA_DHCP4 = "/usr/sbin/kea-dhcp4";
export const KEA_CTRL_AGENT = "/usr/sbin/kea-ctrl-agent";
export const BUSYBOX = "/usr/bin/busybox";
export const KEA_HOOKS = "/usr/lib/x86_64-linux-gnu/kea/hooks";
/** util-linux `setpriv`, to tie the servers' lives to the test process. */
const SETPRIV = "/usr/bin/setpriv";

/** Why this machine cannot run real Kea tests, or undefined when it can. */
export function keaUnavailable(): string | undefined {
  for (const bin of [KEA_DHCP4, KEA_CTRL_AGENT, BUSYBOX])
    if (!existsSync(bin)) return `${bin} is not installed`;
  if (!["/usr/bin/ip", "/usr/sbin/ip", "/bin/ip", "/sbin/ip"].some((p) => existsSync(p)))
    return "iproute2 (ip) is not installed";
  if (process.getuid?.() !== 0) return "network namespaces and raw DHCP sockets need root";
  return undefined;
}

/** One control-agent answer, unwrapped from its one-element array. */
export interface KeaAnswer {
  result: number;
  text?: string;
  // biome-ignore lint/suspicious/noExplicitAny: Kea's arguments differ per command and are inspected freely.
  arguments?: any;
}

export interface RunningKea {
  /** kea-ctrl-agent's REST endpoint, `http://127.0.0.1:<port>`. */
  url: string;
  /** kea-dhcp4's unix control socket. */
  socket: string;
  /** The kea-dhcp4 config file (what `config-write` rewrites). */
  configFile: string;
  dir: string;
  command(name: string, args?: unknown): Promise<KeaAnswer>;
  /** Both servers' output and log files, for failure messages. */
  logs(): string;
  stop(): Promise<void>;
}

export interface StartKeaOptions {
  /** The `Dhcp4` object; control socket, leases and loggers are the harness's. */
  dhcp4: Record<string, unknown>;
  /** Run kea-dhcp4 inside this network namespace (the agent stays in the host's). */
  netns?: string;
  /**
   * Keep leases in `<dir>/leases4.csv`. Without it leases live in memory only,
   * and every `config-set` drops them all (Kea reopens the lease database).
   */
  persistLeases?: boolean;
  /** Log at DEBUG level 99: every packet Kea receives and sends, option by option. */
  debug?: boolean;
  timeoutMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A child's combined stdout/stderr and its exit, without waiting on it. */
function launch(cmd: string, args: string[], env: Record<string, string>) {
  const child = spawn(cmd, args, { env, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  child.stdout!.on("data", (d) => {
    out += d;
  });
  child.stderr!.on("data", (d) => {
    out += d;
  });
  const exited = new Promise<void>((resolve) => child.on("exit", () => resolve()));
  // A missing binary surfaces as an `error` event, not an exit: record it like output.
  child.on("error", (e) => {
    out += `\n${e.message}`;
  });
  return { child, output: () => out, exited };
}

type Launched = ReturnType<typeof launch>;

const hasExited = (c: ChildProcess) => c.exitCode !== null || c.signalCode !== null;

/** SIGTERM, then SIGKILL if it is still there after `graceMs`; resolves once it has exited. */
async function terminate(p: Launched, graceMs = 3000) {
  if (hasExited(p.child) || p.child.pid === undefined) return;
  p.child.kill("SIGTERM");
  const timer = setTimeout(() => p.child.kill("SIGKILL"), graceMs);
  await p.exited;
  clearTimeout(timer);
}

/**
 * Starts kea-dhcp4 with `dhcp4` plus what the harness needs, then a
 * kea-ctrl-agent in front of it; resolves once `config-get` answers.
 */
export async function startKea(opts: StartKeaOptions): Promise<RunningKea> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  // Short on purpose: a unix socket path must fit in 107 bytes.
  const dir = mkdtempSync("/tmp/kea-");
  const socket = join(dir, "dhcp4.sock");
  const configFile = join(dir, "dhcp4.json");
  const dhcpLog = join(dir, "kea-dhcp4.log");
  const agentLog = join(dir, "kea-ctrl-agent.log");
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;

  const dhcp4 = {
    ...opts.dhcp4,
    // Without interfaces Kea opens no DHCP socket at all: enough for the REST API.
    "interfaces-config": opts.dhcp4["interfaces-config"] ?? { interfaces: [] },
    "control-socket": { "socket-type": "unix", "socket-name": socket },
    // lfc-interval 0: no kea-lfc child to outlive the server.
    "lease-database": opts.persistLeases
      ? { type: "memfile", persist: true, name: join(dir, "leases4.csv"), "lfc-interval": 0 }
      : { type: "memfile", persist: false },
    loggers: [
      {
        name: "kea-dhcp4",
        output_options: [{ output: dhcpLog }],
        ...(opts.debug ? { severity: "DEBUG", debuglevel: 99 } : { severity: "INFO" }),
      },
    ],
  };
  writeFileSync(configFile, JSON.stringify({ Dhcp4: dhcp4 }, null, 2));
  const agentConfig = join(dir, "ca.json");
  writeFileSync(
    agentConfig,
    JSON.stringify({
      "Control-agent": {
        "http-host": "127.0.0.1",
        "http-port": port,
        "control-sockets": { dhcp4: { "socket-type": "unix", "socket-name": socket } },
        loggers: [{ name: "kea-ctrl-agent", output_options: [{ output: agentLog }], severity: "INFO" }],
      },
    }),
  );

  // Kea otherwise writes its pid and lock files to /run/kea, shared by every run.
  const env = {
    PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin",
    KEA_PIDFILE_DIR: dir,
    KEA_LOCKFILE_DIR: dir,
  };
  // A test process that dies without its afterAll (a killed worker, SIGPIPE)
  // would leave both servers running: have the kernel TERM them when it dies.
  const guard = existsSync(SETPRIV) ? [SETPRIV, "--pdeathsig", "TERM"] : [];
  // `ip netns exec` execs Kea in place (as does setpriv), so the child's pid is Kea's.
  const netns = opts.netns ? ["ip", "netns", "exec", opts.netns] : [];
  const [cmd, ...args] = [...guard, ...netns, KEA_DHCP4, "-c", configFile];
  const server = launch(cmd!, args, env);
  let agent: Launched | undefined;

  const readLog = (file: string) => (existsSync(file) ? readFileSync(file, "utf8") : "");
  const logs = () =>
    [
      `--- kea-dhcp4 output ---\n${server.output()}`,
      `--- ${dhcpLog} ---\n${readLog(dhcpLog)}`,
      `--- kea-ctrl-agent output ---\n${agent?.output() ?? "(not started)"}`,
      `--- ${agentLog} ---\n${readLog(agentLog)}`,
    ].join("\n");

  async function command(name: string, args?: unknown): Promise<KeaAnswer> {
    const res = await fetch(url, {
      method: "POST",
      // The agent answers 400 to anything that is not application/json.
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        command: name,
        service: ["dhcp4"],
        ...(args === undefined ? {} : { arguments: args }),
      }),
    });
    const body = (await res.json()) as KeaAnswer | KeaAnswer[];
    // One answer per service, as an array; an HTTP-level error is a bare object.
    return Array.isArray(body) ? body[0]! : body;
  }

  let stopped = false;
  async function stop() {
    if (stopped) return;
    stopped = true;
    await Promise.all([agent ? terminate(agent) : undefined, terminate(server)]);
    rmSync(dir, { recursive: true, force: true });
  }

  const fail = async (why: string): Promise<never> => {
    const text = logs();
    await stop();
    throw new Error(`${why}\n${text}`);
  };

  const deadline = Date.now() + timeoutMs;
  while (!existsSync(socket)) {
    if (hasExited(server.child))
      await fail(`kea-dhcp4 exited (${server.child.exitCode}) before opening ${socket}`);
    if (Date.now() > deadline) await fail(`kea-dhcp4 did not open ${socket} in ${timeoutMs} ms`);
    await sleep(50);
  }

  const [agentCmd, ...agentArgs] = [...guard, KEA_CTRL_AGENT, "-c", agentConfig];
  agent = launch(agentCmd!, agentArgs, env);
  let last = "no answer yet";
  for (;;) {
    if (hasExited(server.child)) await fail(`kea-dhcp4 exited (${server.child.exitCode}) during startup`);
    if (hasExited(agent.child)) await fail(`kea-ctrl-agent exited (${agent.child.exitCode}) during startup`);
    try {
      const a = await command("config-get");
      if (a.result === 0) break;
      last = JSON.stringify(a).slice(0, 300);
    } catch (e) {
      // Connection refused until the agent listens.
      last = String(e);
    }
    if (Date.now() > deadline) await fail(`Kea did not answer config-get in ${timeoutMs} ms (last: ${last})`);
    await sleep(50);
  }

  return { url, socket, configFile, dir, command, logs, stop };
}

/** Namespace names are ours when they start with this; the creating pid follows. */
export const NETNS_PREFIX = "ck-";

export interface NetPair {
  /** Namespace holding `serverIf` with `serverIp`/24: where Kea listens. */
  serverNs: string;
  /** Namespace holding `clientIf`, up without an address: where udhcpc runs. */
  clientNs: string;
  serverIf: string;
  clientIf: string;
  /** `10.213.<x>.0/24`. */
  subnet: string;
  serverIp: string;
  cleanup(): Promise<void>;
}

async function ip(...args: string[]) {
  await execFileP("ip", args);
}

async function deleteNetns(name: string) {
  // Deleting a namespace also destroys the veth end inside it, and so its peer.
  await ip("netns", "delete", name).catch(() => {});
}

/**
 * Two fresh namespaces joined by a veth pair. Names carry the creating pid
 * (`ck-<pid>-<hex>-s|c`) so a later run can tell leftovers of dead runs
 * from the namespaces of a run still going.
 */
export async function netPair(): Promise<NetPair> {
  const hex = Math.random().toString(16).slice(2, 8).padEnd(6, "0");
  const serverNs = `${NETNS_PREFIX}${process.pid}-${hex}-s`;
  const clientNs = `${NETNS_PREFIX}${process.pid}-${hex}-c`;
  // Interface names live inside the namespaces but must still fit in 15 bytes.
  const serverIf = `ck${hex}s`;
  const clientIf = `ck${hex}c`;
  // Each pair is isolated, so the subnet need not be unique; varying it catches hard-coded addresses.
  const x = 1 + Math.floor(Math.random() * 254);
  const serverIp = `10.213.${x}.1`;
  const cleanup = async () => {
    await deleteNetns(serverNs);
    await deleteNetns(clientNs);
  };
  try {
    await ip("netns", "add", serverNs);
    await ip("netns", "add", clientNs);
    const peer = ["peer", "name", clientIf, "netns", clientNs];
    await ip("-n", serverNs, "link", "add", serverIf, "type", "veth", ...peer);
    await ip("-n", serverNs, "addr", "add", `${serverIp}/24`, "dev", serverIf);
    for (const [ns, dev] of [
      [serverNs, serverIf],
      [clientNs, clientIf],
      [serverNs, "lo"],
      [clientNs, "lo"],
    ] as const)
      await ip("-n", ns, "link", "set", "dev", dev, "up");
  } catch (e) {
    await cleanup();
    throw e;
  }
  return { serverNs, clientNs, serverIf, clientIf, subnet: `10.213.${x}.0/24`, serverIp, cleanup };
}

/** Deletes harness namespaces whose creating process is gone (a crashed or killed run). */
export async function removeStaleNetns(): Promise<string[]> {
  const { stdout } = await execFileP("ip", ["netns", "list"]).catch(() => ({ stdout: "" }));
  const removed: string[] = [];
  for (const line of stdout.split("\n")) {
    const name = line.split(" ")[0] ?? "";
    const m = /^ck-(\d+)-[0-9a-f]{6}-[sc]$/.exec(name);
    if (!m || isAlive(Number(m[1]))) continue;
    await deleteNetns(name);
    removed.push(name);
  }
  return removed;
}

function isAlive(pid: number) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    // EPERM: alive but not ours.
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}

export interface Lease {
  ip: string;
  /** Option 67 (what iPXE chains to), as busybox's `bootfile`. */
  bootFile?: string;
  /** The BOOTP `file` field (what a PXE ROM fetches by TFTP), as busybox's `boot_file`. */
  file?: string;
  /** The BOOTP `siaddr` (next-server); busybox omits it when 0.0.0.0. */
  siaddr?: string;
  hostname?: string;
  /** Every variable udhcpc handed its script (`opt<N>` for options it has no name for). */
  raw: Record<string, string>;
}

export interface UdhcpcOptions {
  mac: string;
  /** Option 77 sent as raw bytes, as iPXE does (`iPXE`), not RFC 3004 length-prefixed. */
  userClass?: string;
  /** Option 93, client system architecture (0 BIOS, 7/9 x86-64 UEFI). */
  arch?: number;
  /** DISCOVERs sent one second apart before giving up. */
  timeoutSeconds?: number;
}

// The script only records: the address is never configured, so a second run
// on the same interface starts from the same clean state.
const RECORD_SCRIPT = `#!/bin/sh
[ "$1" = bound ] || exit 0
env > "$(dirname "$0")/lease.env"
`;

/** What udhcpc's script sees that is not from udhcpc. */
const NOT_FROM_UDHCPC = new Set(["PATH", "PWD", "SHLVL", "_", "OLDPWD"]);

/** One DHCP exchange (DISCOVER..ACK) from `iface` in `ns` with `mac`; undefined if no lease. */
export async function udhcpc(ns: string, iface: string, opts: UdhcpcOptions): Promise<Lease | undefined> {
  // veth accepts a new MAC while up, so no down/up (which would flap the server's carrier).
  await ip("-n", ns, "link", "set", "dev", iface, "address", opts.mac);
  const dir = mkdtempSync("/tmp/ck-udhcpc-");
  try {
    const script = join(dir, "record.sh");
    writeFileSync(script, RECORD_SCRIPT, { mode: 0o755 });
    const tries = opts.timeoutSeconds ?? 3;
    const args = ["netns", "exec", ns, BUSYBOX, "udhcpc", "-i", iface, "-f", "-q", "-n"];
    args.push("-t", String(tries), "-T", "1", "-s", script, "-O", "bootfile");
    if (opts.userClass !== undefined) args.push("-x", `0x4d:${Buffer.from(opts.userClass).toString("hex")}`);
    if (opts.arch !== undefined) args.push("-x", `0x5d:${opts.arch.toString(16).padStart(4, "0")}`);
    // A bare environment, so the script's `env` holds udhcpc's variables only.
    const run = launch("ip", args, { PATH: "/usr/sbin:/usr/bin:/sbin:/bin" });
    const timer = setTimeout(() => run.child.kill("SIGKILL"), (tries + 5) * 1000);
    await run.exited;
    clearTimeout(timer);
    const file = join(dir, "lease.env");
    if (!existsSync(file)) return undefined;
    const raw: Record<string, string> = {};
    for (const line of readFileSync(file, "utf8").split("\n")) {
      const eq = line.indexOf("=");
      if (eq <= 0) continue;
      const key = line.slice(0, eq);
      if (!NOT_FROM_UDHCPC.has(key)) raw[key] = line.slice(eq + 1);
    }
    if (!raw.ip) return undefined;
    return {
      ip: raw.ip,
      bootFile: raw.bootfile,
      file: raw.boot_file,
      siaddr: raw.siaddr,
      hostname: raw.hostname,
      raw,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
