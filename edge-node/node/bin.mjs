#!/usr/bin/env node
// The `chamicore-edge` executable under Node: the edge's commands, bundled
// from edge-node/node/cli.ts into dist/cli (`npm run build:cli`, which
// `npm install` runs). Sites install the single executable instead
// (`npm run build:edge`, docs/edge-install.md).
import { existsSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";

const bundle = fileURLToPath(new URL("../../dist/cli/edge.js", import.meta.url));
if (!existsSync(bundle)) {
  process.stderr.write(
    `chamicore-edge: the CLI is not built (${bundle} is missing): run \`npm run build:cli\` in ${dirname(dirname(dirname(bundle)))}\n`,
  );
  process.exit(1);
}
await import(new URL("../../dist/cli/edge.js", import.meta.url).href);
