// `npm run release:edge`: builds the edge executable (`npm run build:edge`)
// and packs what a rack's management host needs into
// dist/chamicore-edge-<version>-linux-<arch>.tar.gz: the executable, the
// systemd unit, the low-port drop-in, the edge.env template,
// docs/edge-install.md and a SHA256SUMS over them. It also writes the
// tarball's own checksum beside it, for checking the copy on the far side.
// No network beyond what `npm run build:edge` needs (none for this machine's
// architecture): everything else comes from this checkout.
//
//   npm run release:edge                     # linux-x64 (this machine's)
//   npm run release:edge -- --arch arm64     # dist/chamicore-edge-linux-arm64 packed
//   npm run release:edge -- --arch all       # both
//   node scripts/release-edge.mjs --skip-build [--exe FILE] [--out DIR]
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmodSync,
  closeSync,
  copyFileSync,
  mkdirSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const { values: opts } = parseArgs({
  options: {
    "skip-build": { type: "boolean", default: false },
    exe: { type: "string" },
    arch: { type: "string" },
    out: { type: "string", default: join(root, "dist") },
  },
});

/** ELF e_machine values: what the executable must have been built for. */
const MACHINES = { x64: 0x3e, arm64: 0xb7 };

const fail = (msg) => {
  process.stderr.write(`release-edge: ${msg}\n`);
  process.exit(1);
};

const run = (cmd, args, cwd = root) => {
  const r = spawnSync(cmd, args, { cwd, stdio: "inherit" });
  if (r.status !== 0) fail(`${cmd} ${args.join(" ")} failed (${r.error?.message ?? `exit ${r.status}`})`);
};

const sha256 = (file) => createHash("sha256").update(readFileSync(file)).digest("hex");

/** Refuses an executable built for another machine than the tarball's name says. */
function checkMachine(exe, arch) {
  const head = Buffer.alloc(20);
  const fd = openSync(exe, "r");
  readSync(fd, head, 0, 20, 0);
  closeSync(fd);
  if (head.readUInt32BE(0) !== 0x7f454c46) fail(`${exe} is not an ELF executable`);
  const machine = head.readUInt16LE(18);
  if (machine !== MACHINES[arch])
    fail(`${exe} is built for ELF machine 0x${machine.toString(16)}, not linux-${arch}`);
}

const version = JSON.parse(readFileSync(join(root, "package.json"), "utf8")).version;
const host = process.arch === "arm64" ? "arm64" : "x64";
const asked = opts.arch ?? host;
const arches = asked === "all" ? Object.keys(MACHINES) : [asked];
for (const a of arches)
  if (!(a in MACHINES)) fail(`--arch must be one of ${Object.keys(MACHINES).join(", ")} or all, not '${a}'`);
if (opts.exe && arches.length > 1) fail("--exe names one executable: give one --arch with it");

if (!opts["skip-build"]) run("npm", ["run", "build:edge", "--", "--arch", asked]);
for (const arch of arches)
  pack(
    arch,
    resolve(
      opts.exe ?? join(root, "dist", arch === host ? "chamicore-edge" : `chamicore-edge-linux-${arch}`),
    ),
  );

/** Writes the tarball for `arch` around `exe`, and its checksum. */
function pack(arch, exe) {
  checkMachine(exe, arch);
  // An executable that runs here must say the version the tarball is named for.
  if (arch === host) {
    const r = spawnSync(exe, ["--version"], { env: {}, encoding: "utf8" });
    if (r.status !== 0 || r.stdout.trim() !== version)
      fail(`${exe} --version said '${(r.stdout ?? "").trim()}' (exit ${r.status}), expected ${version}`);
  }

  const name = `chamicore-edge-${version}-linux-${arch}`;
  const out = resolve(opts.out);
  const stage = join(out, name);
  rmSync(stage, { recursive: true, force: true });
  mkdirSync(stage, { recursive: true });
  const files = {
    "chamicore-edge": exe,
    "chamicore-edge.service": join(root, "edge-node/packaging/chamicore-edge.service"),
    "low-port.conf": join(root, "edge-node/packaging/low-port.conf"),
    "edge.env": join(root, "edge-node/packaging/edge.env"),
    "edge-install.md": join(root, "docs/edge-install.md"),
  };
  for (const [to, from] of Object.entries(files)) copyFileSync(from, join(stage, to));
  chmodSync(join(stage, "chamicore-edge"), 0o755);
  const sums = Object.keys(files)
    .sort()
    .map((f) => `${sha256(join(stage, f))}  ${f}\n`)
    .join("");
  writeFileSync(join(stage, "SHA256SUMS"), sums);

  const tarball = join(out, `${name}.tar.gz`);
  // Owned by root and sorted, so the tarball unpacks the same on any host and
  // two releases of the same files differ only in their mtimes.
  run(
    "tar",
    ["--sort=name", "--owner=0", "--group=0", "--numeric-owner", "-czf", tarball, "-C", out, name],
    out,
  );
  rmSync(stage, { recursive: true, force: true });
  writeFileSync(`${tarball}.sha256`, `${sha256(tarball)}  ${basename(tarball)}\n`);
  process.stdout.write(`${tarball}\n${tarball}.sha256\n`);
}
