#!/usr/bin/env node
// The `chamicore` executable: runs the CLI bundled from control/node/cli.ts
// (or, for `chamicore edge`, the edge's from edge-node/node/cli.ts) into dist/cli (`npm run build:cli`, which `npm install` runs), so that no
// TypeScript is compiled at start.
import { existsSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";

// `chamicore edge …` is the edge's own command (edge-node/node/cli.ts, bundled as edge.js, the
// same as the chamicore-edge bin, which sees the `edge` and names itself so): neither CLI
// carries the other's code.
const edge = process.argv[2] === "edge";
const entry = new URL(`../../dist/cli/${edge ? "edge" : "cli"}.js`, import.meta.url);
const bundle = fileURLToPath(entry);
if (!existsSync(bundle)) {
  process.stderr.write(
    `chamicore: the CLI is not built (${bundle} is missing): run \`npm run build:cli\` in ${dirname(dirname(dirname(bundle)))}\n`,
  );
  process.exit(1);
}
await import(entry.href);
