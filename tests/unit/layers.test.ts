/**
 * The layering rules (.dependency-cruiser.cjs, run by `npm run lint:layers`
 * in `npm test`) catch what they are there for: on a small tree laid out
 * like this one, a wrong-way import, a cycle and a Node module in
 * runtime-neutral code each fail the check, by the rule's name, and the same
 * tree without them passes.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const ROOT = process.cwd();
const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

/** Writes `files` into a fresh tree and runs the project's rules over it. */
function cruise(files: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), "chamicore-layers-"));
  dirs.push(dir);
  const all = {
    "tsconfig.json": JSON.stringify({ compilerOptions: { module: "esnext", moduleResolution: "bundler" } }),
    "shared/ids.ts": "export const id = 1;\n",
    "functions/inventory/service.ts": 'import { id } from "../../shared/ids";\nexport const svc = id;\n',
    "control/app.ts": 'import { svc } from "../functions/inventory/service";\nexport const app = svc;\n',
    "edge-node/app.ts": 'import { svc } from "../functions/inventory/service";\nexport const edge = svc;\n',
    ...files,
  };
  for (const [path, text] of Object.entries(all)) {
    mkdirSync(dirname(join(dir, path)), { recursive: true });
    writeFileSync(join(dir, path), text);
  }
  const r = spawnSync(
    join(ROOT, "node_modules/.bin/depcruise"),
    [
      "--config",
      join(ROOT, ".dependency-cruiser.cjs"),
      "--output-type",
      "err",
      "shared",
      "functions",
      "control",
      "edge-node",
    ],
    { cwd: dir, encoding: "utf8" },
  );
  return { code: r.status, out: r.stdout + r.stderr };
}

describe("the layering rules", () => {
  it("pass a tree that keeps them", () => {
    const r = cruise({});
    expect(r.out).toContain("no dependency violations");
    expect(r.code).toBe(0);
  });

  it("fail a wrong-way import, naming the rule", () => {
    for (const [file, text, rule] of [
      [
        "shared/bad.ts",
        'import { app } from "../control/app";\nexport const b = app;\n',
        "shared-imports-nothing-above",
      ],
      [
        "functions/bad.ts",
        'import { edge } from "../edge-node/app";\nexport const b = edge;\n',
        "functions-imports-only-shared",
      ],
      [
        "control/bad.ts",
        'import { edge } from "../edge-node/app";\nexport const b = edge;\n',
        "control-never-imports-edge",
      ],
      [
        "edge-node/bad.ts",
        'import { app } from "../control/app";\nexport const b = app;\n',
        "edge-never-imports-control",
      ],
    ]) {
      const r = cruise({ [file!]: text! });
      expect(r.code, `${file}: ${r.out}`).not.toBe(0);
      expect(r.out).toContain(`${rule}: ${file}`);
    }
  });

  it("fail a cycle", () => {
    const r = cruise({
      "functions/a.ts": 'import { b } from "./b";\nexport const a = () => b;\n',
      "functions/b.ts": 'import { a } from "./a";\nexport const b = () => a;\n',
    });
    expect(r.code).not.toBe(0);
    expect(r.out).toContain("no-cycles: functions/a.ts");
  });

  it("fail a Node module or a node/ folder in runtime-neutral code, and allow them in node/", () => {
    const r = cruise({
      "shared/node/files.ts": 'import { readFileSync } from "node:fs";\nexport const f = readFileSync;\n',
      "functions/node/engine.ts": 'import { f } from "../../shared/node/files";\nexport const e = f;\n',
      "functions/bad.ts": 'import { readFileSync } from "node:fs";\nexport const b = readFileSync;\n',
      "shared/bad.ts": 'import { f } from "./node/files";\nexport const b = f;\n',
    });
    expect(r.code).not.toBe(0);
    expect(r.out).toContain("neutral-code-imports-no-node-module: functions/bad.ts");
    expect(r.out).toContain("neutral-code-imports-no-node-folder: shared/bad.ts");
    expect(r.out).not.toContain("shared/node/files.ts →");
    expect(r.out).not.toContain("functions/node/engine.ts →");
  });
});
