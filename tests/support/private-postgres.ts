/**
 * A throwaway Postgres cluster of our own, for tests that stop and restart
 * the server: the machine's shared server at 127.0.0.1:5432 serves other runs
 * at the same time, so it is never restarted. initdb refuses to run as root,
 * so as root the cluster belongs to the `postgres` OS user.
 */
import { execFile, execFileSync, spawnSync } from "node:child_process";
import { chownSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort } from "./process";

const execFileP = promisify(execFile);

const PG_BIN = process.env.CHAMICORE_TEST_PG_BIN ?? "/usr/lib/postgresql/15/bin";

export interface PrivatePostgres {
  /** Connection URL of the cluster's `postgres` database (trust auth, no password). */
  url: string;
  port: number;
  /** Fast shutdown: sessions are terminated (57P01), then the server stops. */
  stop(): Promise<void>;
  start(): Promise<void>;
  restart(): Promise<void>;
  /** Stops the server and removes its directory. */
  close(): Promise<void>;
}

/** As root, commands run as `postgres` through runuser; otherwise as ourselves. */
function asOwner(cmd: string, args: string[]): [string, string[]] {
  return process.getuid?.() === 0 ? ["runuser", ["-u", "postgres", "--", cmd, ...args]] : [cmd, args];
}

export async function startPrivatePostgres(label: string): Promise<PrivatePostgres> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), `chamicore-pg-${label}-`));
  if (process.getuid?.() === 0) {
    const uid = Number(execFileSync("id", ["-u", "postgres"]).toString());
    const gid = Number(execFileSync("id", ["-g", "postgres"]).toString());
    chownSync(dir, uid, gid);
  }
  const data = join(dir, "data");
  const log = join(dir, "postgres.log");
  const exec = async (cmd: string, args: string[]) => {
    const [c, a] = asOwner(join(PG_BIN, cmd), args);
    await execFileP(c, a, { cwd: dir });
  };
  await exec("initdb", [
    "-D",
    data,
    "-U",
    "postgres",
    "-A",
    "trust",
    "-E",
    "UTF8",
    "--no-sync",
    "--no-instructions",
  ]);
  // The socket goes in our own directory, so nothing clashes with the shared
  // server's; durability does not matter for a throwaway cluster.
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off`;
  let running = false;
  const start = async () => {
    await exec("pg_ctl", ["start", "-D", data, "-l", log, "-w", "-t", "60", "-o", options]);
    running = true;
  };
  const stop = async () => {
    if (!running) return;
    await exec("pg_ctl", ["stop", "-D", data, "-m", "fast", "-w", "-t", "60"]);
    running = false;
  };
  // A test that dies without close() must not leave a server running.
  const onExit = () => {
    if (!running) return;
    const [c, a] = asOwner(join(PG_BIN, "pg_ctl"), ["stop", "-D", data, "-m", "immediate"]);
    spawnSync(c, a, { stdio: "ignore" });
  };
  process.once("exit", onExit);
  await start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    start,
    stop,
    async restart() {
      await stop();
      await start();
    },
    async close() {
      process.off("exit", onExit);
      try {
        await stop();
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
