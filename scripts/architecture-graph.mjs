#!/usr/bin/env node
/**
 * `npm run docs:architecture`: docs/architecture.svg, the layers as the
 * import graph has them (dependency-cruiser, folders collapsed to the
 * layers of .dependency-cruiser.cjs), drawn by Graphviz's `dot` (Debian:
 * apt install graphviz). Run it after moving code between layers.
 */
import { execFileSync } from "node:child_process";
import { writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const graph = execFileSync(
  join(root, "node_modules/.bin/depcruise"),
  [
    "functions",
    "shared",
    "control",
    "edge-node",
    "--include-only",
    "^(functions|shared|control|edge-node)/",
    "--collapse",
    "^(shared/node|functions/node|functions|shared|control/cli|control|edge-node)/",
    "--output-type",
    "dot",
  ],
  { cwd: root, encoding: "utf8" },
);
let svg;
try {
  svg = execFileSync("dot", ["-Tsvg"], { input: graph, encoding: "utf8" });
} catch (e) {
  console.error(`architecture-graph: Graphviz's dot is needed (apt install graphviz): ${e.message}`);
  process.exit(1);
}
writeFileSync(join(root, "docs/architecture.svg"), svg);
console.log("docs/architecture.svg written");
