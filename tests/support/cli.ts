/**
 * The operator CLI as a user runs it: the real `chamicore` bin in a child
 * process, with its own config directory (XDG_CONFIG_HOME), optional input
 * on stdin, and optionally on a pseudo-terminal (util-linux `script`), so
 * that prompts, tables and progress bars behave as they do for a person.
 * Plus a control plane to talk to: a real `chamicore serve` on the embedded
 * database, with a bootstrap admin.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { expect } from "vitest";
import { parse as parseYaml } from "yaml";
import { generateMasterKey, randomSecret } from "../../shared/auth/crypto";
import { BIN, freePort, type Proc, serve } from "./process";
import { tokenFor, urlCall } from "./targets";

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  /** Environment on top of the home's (PATH, HOME and XDG_CONFIG_HOME are set). */
  env?: Record<string, string>;
  /** Written to stdin, then stdin is closed. */
  input?: string;
  /** Run on a pseudo-terminal: stdout and stderr then arrive together in `stdout`. */
  tty?: boolean;
  /**
   * With `tty`: answers typed only once their prompt has appeared in the
   * output, as a person would (so a hidden prompt really hides them).
   */
  answers?: [prompt: string, reply: string][];
  /** Terminal width for `tty` runs. */
  columns?: number;
  timeoutMs?: number;
}

/** A user's home for the CLI: its own config directory, removed by `cleanup`. */
export interface CliHome {
  dir: string;
  env: Record<string, string>;
  run(args: string[], opts?: CliOptions): Promise<CliResult>;
  cleanup(): void;
}

const shellQuote = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;

export function cliHome(): CliHome {
  const dir = mkdtempSync(join(tmpdir(), "chamicore-cli-"));
  const env = {
    PATH: process.env.PATH ?? "/usr/bin:/bin",
    HOME: dir,
    XDG_CONFIG_HOME: join(dir, ".config"),
  };
  return {
    dir,
    env,
    run: (args, opts = {}) => runChamicore(args, { ...opts, env: { ...env, ...opts.env } }),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** Runs `chamicore args…`; resolves when it exits (or kills it after `timeoutMs`). */
export function runChamicore(args: string[], opts: CliOptions = {}): Promise<CliResult> {
  const command = [process.execPath, BIN, ...args];
  const env = { ...opts.env, ...(opts.tty ? { COLUMNS: String(opts.columns ?? 120), TERM: "xterm" } : {}) };
  const child = opts.tty
    ? // script(1) runs the command on a new pseudo-terminal; -e passes its exit code on.
      spawn(
        "script",
        ["-qefc", `stty cols ${opts.columns ?? 120}; ${command.map(shellQuote).join(" ")}`, "/dev/null"],
        {
          env,
          stdio: ["pipe", "pipe", "pipe"],
        },
      )
    : spawn(command[0]!, command.slice(1), { env, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  const answers = [...(opts.answers ?? [])];
  child.stdout.on("data", (d) => {
    stdout += d;
    const next = answers[0];
    if (next && stdout.includes(next[0])) {
      answers.shift();
      child.stdin.write(next[1]);
    }
  });
  child.stderr.on("data", (d) => {
    stderr += d;
  });
  if (opts.input !== undefined) child.stdin.write(opts.input);
  // On a pseudo-terminal, closing stdin would end the session before the command reads it.
  if (!opts.tty || (opts.input === undefined && !opts.answers)) child.stdin.end();
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill("SIGKILL");
      reject(new Error(`chamicore ${args.join(" ")} did not finish:\n${stdout}\n${stderr}`));
    }, opts.timeoutMs ?? 60_000);
    child.on("exit", (code) => {
      clearTimeout(timer);
      // Output can trail the exit event by a tick.
      setImmediate(() =>
        resolve({ code, stdout: opts.tty ? stdout.replaceAll("\r\n", "\n") : stdout, stderr }),
      );
    });
  });
}

export interface TestControl {
  url: string;
  admin: { id: string; secret: string };
  /** A token of the bootstrap admin, for setting things up around the CLI. */
  adminToken: string;
  proc: Proc;
  stop(): Promise<void>;
}

/** A real `chamicore serve` on a fresh embedded database. */
export async function startTestControl(extra: Record<string, string> = {}): Promise<TestControl> {
  const dir = mkdtempSync(join(tmpdir(), "chamicore-cli-control-"));
  const admin = { id: "ops", secret: randomSecret(24) };
  const proc = await serve({
    CHAMICORE_LISTEN: `127.0.0.1:${await freePort()}`,
    CHAMICORE_DATA_DIR: dir,
    CHAMICORE_MASTER_KEY: generateMasterKey(),
    CHAMICORE_BOOTSTRAP_CLIENT_ID: admin.id,
    CHAMICORE_BOOTSTRAP_CLIENT_SECRET: admin.secret,
    ...extra,
  });
  const adminToken = await tokenFor(urlCall(proc.url), admin.id, admin.secret);
  return {
    url: proc.url,
    admin,
    adminToken,
    proc,
    async stop() {
      proc.child.kill("SIGTERM");
      await proc.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

// biome-ignore lint/suspicious/noExplicitAny: parsed API documents are inspected freely.
export type Doc = any;

/** Assertions over one home's CLI runs: what must succeed, what must fail, and each output format parsed back. */
export function cliAsserts(home: CliHome) {
  const cli = (args: string[], opts?: CliOptions) => home.run(args, opts);
  /** Runs a command that must succeed. */
  async function ok(args: string[], opts?: CliOptions): Promise<CliResult> {
    const r = await cli(args, opts);
    expect(r.code, `chamicore ${args.join(" ")}\n${r.stdout}\n${r.stderr}`).toBe(0);
    return r;
  }
  return {
    cli,
    ok,
    json: async (args: string[], opts?: CliOptions): Promise<Doc> =>
      JSON.parse((await ok([...args, "-o", "json"], opts)).stdout),
    yaml: async (args: string[]): Promise<Doc> => parseYaml((await ok([...args, "-o", "yaml"])).stdout),
    /** Without -o in a pipe the CLI prints JSON. */
    piped: async (args: string[]): Promise<Doc> => JSON.parse((await ok(args)).stdout),
    ids: (list: Doc): string[] => list.items.map((i: Doc) => i.metadata.id),
    /** Without -o on a terminal the CLI prints a table: its header, split on the column gaps, and its rows. */
    async table(args: string[]): Promise<{ header: string[]; rows: string[][] }> {
      const r = await ok(args, { tty: true });
      const lines = r.stdout.split("\n").filter((l) => l.trim() !== "");
      const split = (l: string) => l.trim().split(/\s{2,}/);
      return { header: split(lines[0]!), rows: lines.slice(1).map(split) };
    },
    /** Each command's --help answers 0, names the command and shows an example of it. */
    async helpWithExamples(commands: string[][]) {
      // A few at a time: each is a process start.
      const results: [string[], CliResult][] = [];
      const queue = [...commands];
      await Promise.all(
        Array.from({ length: 3 }, async () => {
          for (let c = queue.shift(); c; c = queue.shift()) results.push([c, await cli([...c, "--help"])]);
        }),
      );
      expect(results).toHaveLength(commands.length);
      for (const [c, r] of results) {
        expect(r.code, `${c.join(" ")} --help: ${r.stderr}`).toBe(0);
        expect(r.stdout.split("\n")[0], c.join(" ")).toMatch(new RegExp(`^chamicore ${c.join(" ")}\\b`));
        expect(r.stdout, c.join(" ")).toContain("Examples:");
        expect(r.stdout, c.join(" ")).toMatch(new RegExp(`\\n  chamicore ${c.join(" ")} `));
      }
    },
    /** Runs a command that must fail with `code`; returns its stderr. */
    async fails(code: number, args: string[]): Promise<string> {
      const r = await cli(args);
      expect(r.code, `chamicore ${args.join(" ")}\n${r.stdout}\n${r.stderr}`).toBe(code);
      return r.stderr;
    },
  };
}

/** Logs a home in as the control's bootstrap admin, with the secret on stdin. */
export async function loginAsAdmin(
  home: CliHome,
  control: TestControl,
  context?: string,
): Promise<CliResult> {
  return home.run(
    [
      "auth",
      "login",
      "--endpoint",
      control.url,
      "--client-id",
      control.admin.id,
      "--client-secret-stdin",
      ...(context ? ["--context", context] : []),
    ],
    { input: control.admin.secret },
  );
}

/** Homes made on demand, all removed by `cleanup()` (call it in afterAll). */
export function cliHomes() {
  const made: CliHome[] = [];
  return {
    home(): CliHome {
      const h = cliHome();
      made.push(h);
      return h;
    },
    cleanup: () => {
      for (const h of made) h.cleanup();
    },
  };
}
