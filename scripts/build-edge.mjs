#!/usr/bin/env node
/**
 * `npm run build:edge`: the single `chamicore-edge` executable, made by
 * `bun build --compile` from edge-node/bun/main.ts, with the replica's SQL
 * migrations built in (it runs where no checkout exists).
 *
 *   npm run build:edge                      # dist/chamicore-edge for this machine (linux-x64)
 *   npm run build:edge -- --arch arm64      # dist/chamicore-edge-linux-arm64
 *   npm run build:edge -- --arch all        # both
 *
 * The runtime for another architecture is the `bun` package's own build
 * for it, fetched by bun from the npm registry the first time.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { readMigrationFiles } from "drizzle-orm/migrator";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const bun = join(root, "node_modules/.bin/bun");
const ARCHES = { x64: "bun-linux-x64", arm64: "bun-linux-arm64" };
const host = process.arch === "arm64" ? "arm64" : "x64";

const i = process.argv.indexOf("--arch");
const asked = i > 0 ? process.argv[i + 1] : host;
const arches = asked === "all" ? Object.keys(ARCHES) : [asked];
for (const a of arches)
  if (!(a in ARCHES)) {
    console.error(`build-edge: unknown --arch ${a} (x64, arm64 or all)`);
    process.exit(2);
  }
if (!existsSync(bun)) {
  console.error("build-edge: node_modules/.bin/bun is missing: run npm ci");
  process.exit(1);
}

const migrations = readMigrationFiles({ migrationsFolder: join(root, "migrations/sqlite") });
mkdirSync(join(root, "dist"), { recursive: true });
for (const arch of arches) {
  const out = join(root, "dist", arch === host ? "chamicore-edge" : `chamicore-edge-linux-${arch}`);
  // Built beside it, then renamed over it: a running copy (a test, a benchmark) keeps its file.
  const tmp = `${out}.${process.pid}.tmp`;
  const t = performance.now();
  const r = spawnSync(
    bun,
    [
      "build",
      "--compile",
      `--target=${ARCHES[arch]}`,
      "--minify-syntax",
      "--minify-whitespace",
      "--sourcemap=none",
      // Compiled to JavaScriptCore bytecode here, not parsed at every start: the edge answers
      // its first request in ~190 instead of 330–400 ms, for 14 MB more file.
      "--bytecode",
      "--define",
      `CHAMICORE_REPLICA_MIGRATIONS=${JSON.stringify(migrations)}`,
      "--outfile",
      tmp,
      join(root, "edge-node/bun/main.ts"),
    ],
    { cwd: root, stdio: ["ignore", "inherit", "inherit"] },
  );
  if (r.status !== 0) {
    rmSync(tmp, { force: true });
    process.exit(r.status ?? 1);
  }
  renameSync(tmp, out);
  const mb = (statSync(out).size / 1e6).toFixed(0);
  console.log(`built ${out} (linux-${arch}, ${mb} MB) in ${((performance.now() - t) / 1000).toFixed(1)} s`);
}
