// `npm run build:cli` (and `npm install`, through prepare): bundles the
// `chamicore` command (control/node/cli.ts) into dist/cli, so that the bins
// start without compiling TypeScript. Split into chunks: `--help` and the
// operator commands load neither a database driver nor the servers, which
// are imported on demand. Also writes dist/pglite/template.tar.gz, an
// embedded database already through initdb and the migrations, which a
// first `chamicore serve` unpacks instead of running initdb (seconds in
// wasm). `--if-stale` rebuilds each only when a file its last build read
// has changed since (the tests' global setup uses it).
//
// Several builds may run at once (test runs in one checkout): each file is
// written aside and renamed into place, chunks first and the entry last, so
// a running process never reads half a file, and a chunk an older entry
// still names is removed only once it is an hour old.
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = join(dirname(fileURLToPath(import.meta.url)), "..");
const OUT = join(ROOT, "dist/cli");
/** What the last build read, and when it started. */
const MANIFEST = join(OUT, "inputs.json");
/** Which sources each output file holds (tests/e2e/cli-startup.test.ts checks what a command loads). */
const CONTENTS = join(OUT, "contents.json");
/** An embedded database through initdb and the migrations, for first starts (control/db/node.ts). */
const TEMPLATE_DIR = join(ROOT, "dist/pglite");
const TEMPLATE = join(TEMPLATE_DIR, "template.tar.gz");
const TEMPLATE_MANIFEST = join(TEMPLATE_DIR, "inputs.json");
const PG_MIGRATIONS = join(ROOT, "migrations/postgres");
const STALE_CHUNK_MS = 60 * 60_000;

// Kept out of the bundle: native addons, and packages that read files next
// to their own module at run time (PGlite's wasm and data).
const EXTERNAL = [
  "better-sqlite3",
  "@electric-sql/pglite",
  "@electric-sql/pglite/*",
  "pg-native",
  "bun",
  "bun:*",
];

const REPLICA_MIGRATIONS = join(ROOT, "migrations/sqlite");

function isStale(manifestFile) {
  let manifest;
  try {
    manifest = JSON.parse(readFileSync(manifestFile, "utf8"));
  } catch {
    return true;
  }
  for (const file of manifest.inputs) {
    try {
      if (statSync(join(ROOT, file)).mtimeMs > manifest.builtAt) return true;
    } catch {
      return true;
    }
  }
  return false;
}

const filesUnder = (dir) => readdirSync(dir, { recursive: true }).map((f) => relative(ROOT, join(dir, f)));

function writeAtomically(path, contents) {
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, contents);
  renameSync(tmp, path);
}

async function build() {
  // Loaded here: the staleness check alone should cost next to nothing.
  const [esbuild, { readMigrationFiles }] = await Promise.all([
    import("esbuild"),
    import("drizzle-orm/migrator"),
  ]);
  const builtAt = Date.now();
  const result = await esbuild.build({
    absWorkingDir: ROOT,
    entryPoints: { cli: "control/node/cli.ts", edge: "edge-node/node/cli.ts" },
    outdir: OUT,
    entryNames: "[name]",
    chunkNames: "[name]-[hash]",
    bundle: true,
    splitting: true,
    format: "esm",
    platform: "node",
    target: "node20",
    minify: true,
    // Class and function names show in error names and stack traces.
    keepNames: true,
    sourcemap: "linked",
    external: EXTERNAL,
    // CommonJS packages inside an ES module bundle still call require().
    banner: {
      js: 'import { createRequire as __chamicoreRequire } from "node:module"; const require = __chamicoreRequire(import.meta.url);',
    },
    // The edge replica's migrations travel in the bundle (edge-node/replica/migrations.ts).
    define: {
      CHAMICORE_REPLICA_MIGRATIONS: JSON.stringify(
        readMigrationFiles({ migrationsFolder: REPLICA_MIGRATIONS }),
      ),
    },
    metafile: true,
    write: false,
    logLevel: "warning",
  });
  mkdirSync(OUT, { recursive: true });
  const entries = new Set([join(OUT, "cli.js"), join(OUT, "edge.js")]);
  const files = result.outputFiles.sort((a, b) => entries.has(a.path) - entries.has(b.path));
  for (const f of files) writeAtomically(f.path, f.contents);
  const written = new Set(files.map((f) => f.path));
  for (const name of readdirSync(OUT)) {
    const path = join(OUT, name);
    if (written.has(path) || path === MANIFEST || path === CONTENTS) continue;
    try {
      if (Date.now() - statSync(path).mtimeMs > STALE_CHUNK_MS) rmSync(path, { force: true });
    } catch {
      // Removed by a build running alongside.
    }
  }
  const inputs = [
    ...Object.keys(result.metafile.inputs).filter((f) => existsSync(join(ROOT, f))),
    relative(ROOT, fileURLToPath(import.meta.url)),
    ...filesUnder(REPLICA_MIGRATIONS),
    // A dependency upgrade shows here, whatever mtimes npm gives the files it installs.
    "package-lock.json",
  ];
  const contents = Object.fromEntries(
    Object.entries(result.metafile.outputs).map(([out, o]) => [
      relative(OUT, join(ROOT, out)),
      Object.keys(o.inputs),
    ]),
  );
  writeAtomically(CONTENTS, JSON.stringify(contents));
  writeAtomically(MANIFEST, JSON.stringify({ builtAt, inputs }));
  return files.length;
}

async function buildPgliteTemplate() {
  const builtAt = Date.now();
  const [{ PGlite }, { drizzle }, { migrate }] = await Promise.all([
    import("@electric-sql/pglite"),
    import("drizzle-orm/pglite"),
    import("drizzle-orm/pglite/migrator"),
  ]);
  const client = await PGlite.create();
  await migrate(drizzle(client), { migrationsFolder: PG_MIGRATIONS });
  const dump = Buffer.from(await (await client.dumpDataDir("gzip")).arrayBuffer());
  await client.close();
  mkdirSync(TEMPLATE_DIR, { recursive: true });
  writeAtomically(TEMPLATE, dump);
  const inputs = [
    ...filesUnder(PG_MIGRATIONS),
    "package-lock.json",
    relative(ROOT, fileURLToPath(import.meta.url)),
  ];
  writeAtomically(TEMPLATE_MANIFEST, JSON.stringify({ builtAt, inputs }));
}

const ifStale = process.argv.includes("--if-stale");
const where = (p) => relative(process.cwd(), p) || ".";
if (!ifStale || isStale(MANIFEST)) {
  const t0 = performance.now();
  const n = await build();
  console.log(
    `chamicore CLI bundled into ${where(OUT)} (${n} files, ${Math.round(performance.now() - t0)} ms)`,
  );
}
if (!ifStale || isStale(TEMPLATE_MANIFEST)) {
  const t0 = performance.now();
  await buildPgliteTemplate();
  console.log(
    `embedded database template written to ${where(TEMPLATE)} (${Math.round(performance.now() - t0)} ms)`,
  );
}
