/**
 * What the bundled `chamicore` loads before it answers: `--help`, `version`
 * and the operator commands load none of the database drivers, the servers
 * or the edge (that is what keeps them quick), while `migrate` does load
 * its driver, which shows the check sees what it looks for. Also: a bin
 * without its bundle says how to build it, rather than failing obscurely.
 * The edge's bundle can load nothing of the control plane: that is what
 * keeps the rack appliance small.
 */
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { BIN, freePort } from "../support/process";

const DIST = join(process.cwd(), "dist/cli");
/** Which sources each file of the bundle holds (written by scripts/build-cli.mjs). */
const contents: Record<string, string[]> = JSON.parse(readFileSync(join(DIST, "contents.json"), "utf8"));

const HEAVY =
  /^node_modules\/(pg|pg-pool|pg-protocol|drizzle-orm|@electric-sql|better-sqlite3|hono|@hono|@nats-io|casbin)\/|^control\/(db|node\/serve|stores)|^edge-node\/(replica|node|serve)/;

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Runs the bin with Node's module-loader debug log; returns the sources of every module it loaded. */
function loaded(args: string[], env: Record<string, string> = {}) {
  const home = mkdtempSync(join(tmpdir(), "chamicore-startup-"));
  dirs.push(home);
  const r = spawnSync(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH ?? "", HOME: home, XDG_CONFIG_HOME: home, NODE_DEBUG: "esm", ...env },
    encoding: "utf8",
    timeout: 30_000,
  });
  const urls = new Set([...r.stderr.matchAll(/Storing (\S+)/g)].map((m) => m[1]!));
  const sources: string[] = [];
  const outside: string[] = [];
  for (const url of urls) {
    if (url.startsWith("node:")) continue;
    const file = new URL(url).pathname;
    if (file === BIN) continue;
    if (file.startsWith(`${DIST}/`))
      sources.push(...(contents[file.slice(DIST.length + 1)] ?? [`? ${file}`]));
    else outside.push(file);
  }
  return { code: r.status, stdout: r.stdout, sources, outside };
}

describe("the bundled chamicore at start", () => {
  it("answers --help, version and an operator command without loading a driver, a server or the edge", async () => {
    const help = loaded(["--help"]);
    expect(help.code).toBe(0);
    expect(help.stdout).toContain("chamicore <command>");
    const version = loaded(["version"]);
    expect(version.code).toBe(0);
    // Nothing listens there: the command fails fast with exit code 1.
    const list = loaded(["smd", "components", "list"], {
      CHAMICORE_ENDPOINT: `http://127.0.0.1:${await freePort()}`,
      CHAMICORE_TOKEN: "t",
    });
    expect(list.code).toBe(1);
    for (const run of [help, version, list]) {
      expect(run.sources).toContain("control/cli/main.ts");
      expect(run.sources.filter((s) => HEAVY.test(s))).toEqual([]);
      // zod alone would be a third of what they parse (shared/node/cli/config.ts checks by hand).
      expect(run.sources.filter((s) => s.startsWith("node_modules/zod/"))).toEqual([]);
      // Everything comes from the bundle: no TypeScript, no package loaded beside it.
      expect(run.outside).toEqual([]);
    }
  });

  it("loads the database driver for migrate", () => {
    const migrate = loaded(["migrate"], { DATABASE_URL: "postgres://nobody@127.0.0.1:1/none" });
    expect(migrate.code).toBe(1);
    expect(migrate.sources).toContain("control/db/node.ts");
    expect(migrate.sources.some((s) => s.startsWith("node_modules/pg/"))).toBe(true);
  });

  it("says how to build the CLI when the bundle is missing", () => {
    const root = mkdtempSync(join(tmpdir(), "chamicore-unbuilt-"));
    dirs.push(root);
    mkdirSync(join(root, "control/node"), { recursive: true });
    copyFileSync(BIN, join(root, "control/node/bin.mjs"));
    const r = spawnSync(process.execPath, [join(root, "control/node/bin.mjs"), "--help"], {
      encoding: "utf8",
    });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain("npm run build:cli");
    expect(r.stderr).toContain(join(root, "dist/cli/cli.js"));
  });
});

describe("the bundled chamicore-edge", () => {
  it("can load nothing of the control plane or the operator CLI, and answers --help", () => {
    // Every file edge.js can load, statically or on demand, and the sources they hold.
    const seen = new Set<string>();
    const queue = ["edge.js"];
    while (queue.length) {
      const file = queue.pop()!;
      if (seen.has(file)) continue;
      seen.add(file);
      const text = readFileSync(join(DIST, file), "utf8");
      for (const m of text.matchAll(/(?:from|import)\s*\(?\s*["']\.\/([\w.-]+\.js)["']/g)) queue.push(m[1]!);
    }
    const sources = [...seen].flatMap((f) => contents[f] ?? [`? ${f}`]);
    expect(sources).toContain("edge-node/cli/main.ts");
    expect(sources).toContain("edge-node/node/serve.ts");
    expect(sources.filter((s) => s.startsWith("control/") || s.startsWith("?"))).toEqual([]);
    expect(sources.filter((s) => /^node_modules\/(@electric-sql|casbin|pg|pg-protocol)\//.test(s))).toEqual(
      [],
    );

    const help = spawnSync(process.execPath, [join(process.cwd(), "edge-node/node/bin.mjs"), "--help"], {
      encoding: "utf8",
    });
    expect(help.status).toBe(0);
    for (const command of ["list", "kea-config", "status"]) expect(help.stdout).toContain(command);
  });
});
