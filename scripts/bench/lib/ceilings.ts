/**
 * The ceilings a benchmark compares the edge with, each its own process on
 * loopback, measured by the same generator in the same run:
 * - a bare `node:http` server answering one fixed script of the edge's size
 *   (what Node itself can do on this machine, with no routing, no lookup);
 * - nginx (Debian's package) serving pre-rendered script files, one per MAC.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
export async function startBareNode(body: string): Promise<Ceiling> {
  const child = spawn(process.execPath, ["-e", BARE_SERVER], {
    env: { BODY: body },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const port = await started(
    child,
    "bare node:http",
    (out) => Number(out.trim().split("\n")[0]) || undefined,
  );
  return {
    name: "bare node:http",
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
 * `/boot/v1/bootscript?mac=<mac>` with the file of that MAC, on a free port.
 */
export async function startNginx(scripts: Map<string, string>): Promise<Ceiling> {
  const dir = mkdtempSync(join(tmpdir(), "chamicore-bench-nginx-"));
  const www = join(dir, "www");
  mkdirSync(www);
  for (const [mac, text] of scripts) writeFileSync(join(www, `${mac}.ipxe`), text);
  const port = 20_000 + Math.floor(Math.random() * 20_000);
  const root = process.getuid?.() === 0;
  writeFileSync(
    join(dir, "nginx.conf"),
    `${root ? "user root;\n" : ""}worker_processes auto;
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
    default_type text/plain;
    location = /boot/v1/bootscript { try_files /$arg_mac.ipxe =404; }
  }
}
`,
  );
  mkdirSync(join(dir, "tmp"));
  const child = spawn("nginx", ["-p", dir, "-c", join(dir, "nginx.conf"), "-g", "daemon off;"], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  await started(child, "nginx", () => {
    try {
      execFileSync("bash", ["-c", `exec 3<>/dev/tcp/127.0.0.1/${port}`], { stdio: "ignore" });
      return port;
    } catch {
      return undefined;
    }
  });
  const stop = stopper(child);
  return {
    name: "nginx",
    host: "127.0.0.1",
    port,
    pid: child.pid!,
    // The master holds no connections; the workers' memory is what grows.
    memory: () => processMemory(child.pid!),
    async stop() {
      await stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
