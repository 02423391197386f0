/**
 * Unpacking the embedded database's template (control/db/pglite-template.ts):
 * every file and directory arrives byte for byte, a data directory that
 * holds anything is never overwritten, and what a crash left half unpacked
 * is cleared by the next start. (That a first `chamicore serve` then runs
 * on it is tests/e2e/serve.test.ts.)
 */
import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { unpackTemplate } from "../../control/db/pglite-template";

let work: string;
beforeEach(() => {
  work = mkdtempSync(join(tmpdir(), "chamicore-template-"));
});
afterEach(() => rmSync(work, { recursive: true, force: true }));

/** A ustar archive of a small tree, made by tar(1), as PGlite's dump is one. */
function archive(): { file: string; tree: Record<string, Buffer> } {
  const src = join(work, "src");
  const tree: Record<string, Buffer> = {
    PG_VERSION: Buffer.from("18\n"),
    "global/1213": Buffer.alloc(8192, 7),
    "pg_wal/000000010000000000000001": Buffer.alloc(70_000, 0),
    "base/1/empty": Buffer.alloc(0),
  };
  for (const [name, data] of Object.entries(tree)) {
    mkdirSync(join(src, name, ".."), { recursive: true });
    writeFileSync(join(src, name), data);
  }
  mkdirSync(join(src, "pg_wal/archive_status"), { recursive: true });
  const file = join(work, "template.tar.gz");
  execFileSync("tar", ["--format=ustar", "-czf", file, "-C", src, "."]);
  return { file, tree };
}

describe("unpackTemplate", () => {
  it("unpacks every file and directory into a missing or empty data directory", () => {
    const { file, tree } = archive();
    for (const target of [join(work, "missing/pg"), join(work, "empty")]) {
      mkdirSync(join(work, "empty"), { recursive: true });
      mkdirSync(join(target, ".."), { recursive: true });
      unpackTemplate(file, target);
      for (const [name, data] of Object.entries(tree)) expect(readFileSync(join(target, name))).toEqual(data);
      expect(readdirSync(join(target, "pg_wal/archive_status"))).toEqual([]);
    }
  });

  it("never replaces a directory that holds something", () => {
    const { file } = archive();
    const target = join(work, "pg");
    mkdirSync(target);
    writeFileSync(join(target, "mine"), "keep");
    expect(() => unpackTemplate(file, target)).toThrow();
    expect(readdirSync(target)).toEqual(["mine"]);
  });

  it("clears what an interrupted unpack left before unpacking again", () => {
    const { file, tree } = archive();
    const target = join(work, "pg");
    mkdirSync(`${target}.unpacking/base`, { recursive: true });
    writeFileSync(`${target}.unpacking/base/stray`, "half");
    unpackTemplate(file, target);
    expect(readdirSync(join(target, "base/1"))).toEqual(["empty"]);
    expect(readFileSync(join(target, "PG_VERSION"))).toEqual(tree.PG_VERSION);
    expect(readdirSync(work)).not.toContain("pg.unpacking");
  });
});
