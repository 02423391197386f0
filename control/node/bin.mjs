#!/usr/bin/env node
// The `chamicore` executable: runs the CLI bundled from control/node/cli.ts
// into dist/cli (`npm run build:cli`, which `npm install` runs), so that no
// TypeScript is compiled at start.
import { existsSync } from "node:fs";
import { dirname } from "node:path";
import { fileURLToPath } from "node:url";

const bundle = fileURLToPath(new URL("../../dist/cli/cli.js", import.meta.url));
if (!existsSync(bundle)) {
  process.stderr.write(
    `chamicore: the CLI is not built (${bundle} is missing): run \`npm run build:cli\` in ${dirname(dirname(dirname(bundle)))}\n`,
  );
  process.exit(1);
}
await import(new URL("../../dist/cli/cli.js", import.meta.url).href);
