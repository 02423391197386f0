/**
 * The embedded database's first start without initdb: `npm run build:cli`
 * (scripts/build-cli.mjs) leaves a data directory already through initdb
 * and the migrations as a tar.gz (PGlite's own dump), and a fresh data
 * directory is unpacked from it here. initdb runs in wasm and takes
 * seconds; PGlite's `loadDataDir` unpacks through its wasm file system and
 * takes about a second; this takes a fraction of that.
 *
 * Unpacked beside the target and renamed into place, so a crash part way
 * leaves no half database that would later be taken for a real one.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, normalize } from "node:path";
import { gunzipSync } from "node:zlib";

const BLOCK = 512;

function field(tar: Buffer, at: number, length: number): string {
  const raw = tar.subarray(at, at + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end < 0 ? length : end).toString("utf8");
}

/** Unpacks the ustar archive `tarGz` as `dir`, which must be missing or empty. */
export function unpackTemplate(tarGz: string, dir: string): void {
  const tar = gunzipSync(readFileSync(tarGz));
  const staging = `${dir}.unpacking`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  for (let at = 0; at + BLOCK <= tar.length; ) {
    const name = field(tar, at, 100);
    if (name === "") break; // the two zero blocks that end an archive
    const prefix = field(tar, at + 345, 155);
    const size = Number.parseInt(field(tar, at + 124, 12).trim() || "0", 8);
    const type = String.fromCharCode(tar[at + 156]!);
    const relative = normalize(`${prefix ? `${prefix}/` : ""}${name}`).replace(/^\/+/, "");
    if (relative.startsWith("..")) throw new Error(`${tarGz}: ${name} points outside the data directory`);
    const path = join(staging, relative);
    at += BLOCK;
    if (type === "5") mkdirSync(path, { recursive: true });
    else if (type === "0" || type === "\0") {
      mkdirSync(dirname(path), { recursive: true });
      writeFileSync(path, tar.subarray(at, at + size));
    } else throw new Error(`${tarGz}: ${name} is neither a file nor a directory`);
    at += Math.ceil(size / BLOCK) * BLOCK;
  }
  // rename(2) replaces an empty directory and refuses any other.
  renameSync(staging, dir);
}
