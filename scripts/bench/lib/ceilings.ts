/**
 * The ceilings a benchmark compares the edge with, each its own process on
 * loopback, measured by the same generator in the same run:
 * - a bare `node:http` server answering one fixed script of the edge's size
 *   (what Node itself can do on this machine, with no routing, no lookup);
 * - nginx (Debian's package) serving pre-rendered script files, one per MAC;
 * - a bare `Bun.serve` answering the same fixed script (what the runtime of
 *   the edge's single executable can do with no routing, no lookup).
 * Each is spawned through spawnOnServerCpu, so it runs on the server's CPU
 * once the benchmark pinned itself.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "../../../tests/support/process";
import { spawnOnServerCpu } from "./cpu";
import { processMemory } from "./site";

export interface Ceiling {
  name: string;
  host: string;
  port: number;
  pid: number;
  memory(): { rssMiB: number; peakMiB: number };
  stop(): Promise<void>;
}

const BARE_SERVER = `
const http = require("node:http");
const body = Buffer.from(process.env.BODY, "utf8");
const server = http.createServer((req, res) => {
  res.writeHead(200, { "Content-Type": "text/plain; charset=utf-8", "Content-Length": body.length });
  res.end(body);
});
server.keepAliveTimeout = 65000;
server.listen({ host: "127.0.0.1", port: 0, backlog: 4096 }, () => console.log(server.address().port));
`;

const BUN_SERVER = `
const body = process.env.BODY;
const headers = { "Content-Type": "text/plain; charset=utf-8" };
const server = Bun.serve({ hostname: "127.0.0.1", port: 0, idleTimeout: 65, fetch: () => new Response(body, { headers }) });
console.log(server.port);
`;

/** The Bun runtime the `bun` npm package ships (the one `bun build --compile` embeds). */
export const BUN = join(process.cwd(), "node_modules/.bin/bun");

async function started(child: ChildProcess, name: string, read: (out: string) => number | undefined) {
  let out = "";
  child.stdout?.on("data", (d) => {
    out += d;
  });
  child.stderr?.on("data", (d) => {
    out += d;
  });
  const deadline = Date.now() + 15_000;
  while (Date.now() < deadline) {
    const port = read(out);
    if (port) return port;
    if (child.exitCode !== null) throw new Error(`${name} exited: ${out}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill("SIGKILL");
  throw new Error(`${name} did not start: ${out}`);
}

const stopper = (child: ChildProcess) => async () => {
  if (child.exitCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill("SIGTERM");
  await exited;
};

/** A bare node:http server answering `body` to every request. */
export function startBareNode(body: string): Promise<Ceiling> {
  return startFixed("bare node:http", process.execPath, ["-e", BARE_SERVER], body);
}

/** A bare `Bun.serve` answering `body` to every request. */
export function startBun(body: string): Promise<Ceiling> {
  return startFixed("bare Bun", BUN, ["-e", BUN_SERVER], body);
}

export const bunAvailable = () => existsSync(BUN);

/** A server started by `command args` with the body in $BODY, printing its port first. */
async function startFixed(name: string, command: string, args: string[], body: string): Promise<Ceiling> {
  const child = spawnOnServerCpu(() =>
    spawn(command, args, {
      env: { BODY: body, PATH: process.env.PATH ?? "" },
      stdio: ["ignore", "pipe", "pipe"],
    }),
  );
  const port = await started(child, name, (out) => Number(out.trim().split("\n")[0]) || undefined);
  return {
    name,
    host: "127.0.0.1",
    port,
    pid: child.pid!,
    memory: () => processMemory(child.pid!),
    stop: stopper(child),
  };
}

export const nginxAvailable = () => {
  try {
    execFileSync("nginx", ["-v"], { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
};

/**
 * nginx with `scripts` (MAC → script text) as files, answering
 * `/boot/v1/bootscript?mac=<mac>` with the file of that MAC, on a free port,
 * with `workers` worker processes (one per core it may use: nginx 1.22's
 * `auto` counts the machine's cores, not those it is pinned to).
 */
export function startNginx(
  scripts: Map<string, string>,
  workers: number | "auto" = "auto",
): Promise<Ceiling> {
  return startNginxWith(
    (www) => {
      for (const [mac, text] of scripts) writeFileSync(join(www, `${mac}.ipxe`), text);
    },
    "default_type text/plain;\n    location = /boot/v1/bootscript { try_files /$arg_mac.ipxe =404; }",
    workers,
  );
}

/**
 * nginx serving the files `fill` puts in its root, as a site's web server
 * serves boot images: sendfile on, ranges, ETags (its own, not the digest).
 */
export function startNginxFiles(
  fill: (www: string) => void,
  workers: number | "auto" = "auto",
): Promise<Ceiling> {
  return startNginxWith(
    fill,
    "default_type application/octet-stream;\n    sendfile on;\n    tcp_nopush on;",
    workers,
  );
}

const nginxConf = (dir: string, www: string, port: number, server: string, workers: number | "auto") =>
  `${process.getuid?.() === 0 ? "user root;\n" : ""}worker_processes ${workers};
worker_rlimit_nofile 20000;
pid ${dir}/nginx.pid;
error_log ${dir}/error.log warn;
events { worker_connections 16384; }
http {
  access_log off;
  client_body_temp_path ${dir}/tmp; proxy_temp_path ${dir}/tmp; fastcgi_temp_path ${dir}/tmp;
  uwsgi_temp_path ${dir}/tmp; scgi_temp_path ${dir}/tmp;
  keepalive_timeout 65s;
  keepalive_requests 1000000;
  server {
    listen 127.0.0.1:${port} backlog=4096;
    root ${www};
    ${server}
  }
}
`;

async function startNginxWith(
  fill: (www: string) => void,
  server: string,
  workers: number | "auto",
): Promise<Ceiling> {
  const dir = mkdtempSync(join(tmpdir(), "chamicore-bench-nginx-"));
  const www = join(dir, "www");
  mkdirSync(www);
  fill(www);
  mkdirSync(join(dir, "tmp"));
  // A port free a moment ago may be taken by the time nginx binds it (an outgoing connection's
  // ephemeral port): then nginx exits, and another port is tried.
  let port = 0;
  let child: ChildProcess | undefined;
  for (let attempt = 1; !child; attempt++) {
    port = await freePort();
    writeFileSync(join(dir, "nginx.conf"), nginxConf(dir, www, port, server, workers));
    const spawned = spawnOnServerCpu(() =>
      spawn("nginx", ["-p", dir, "-c", join(dir, "nginx.conf"), "-g", "daemon off;"], {
        stdio: ["ignore", "pipe", "pipe"],
      }),
    );
    try {
      await started(spawned, "nginx", () => {
        try {
          execFileSync("bash", ["-c", `exec 3<>/dev/tcp/127.0.0.1/${port}`], { stdio: "ignore" });
          return port;
        } catch {
          return undefined;
        }
      });
      child = spawned;
    } catch (e) {
      if (attempt >= 5 || !/Address already in use/.test((e as Error).message)) throw e;
    }
  }
  const master = child;
  const stop = stopper(master);
  return {
    name: "nginx",
    host: "127.0.0.1",
    port,
    pid: master.pid!,
    // The master's own figures; its workers are its children (cpuMicros counts them).
    memory: () => processMemory(master.pid!),
    async stop() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
