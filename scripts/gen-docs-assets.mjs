// The Swagger UI files behind /api/docs, as the Worker's static assets
// (wrangler.toml [assets]: dist/assets/api/docs/), so that the docs work
// with no internet and the Worker's bundle does not carry 2 MB of them.
// Node reads them from swagger-ui-dist itself (control/node/docs-assets.ts).
// Runs on `npm install` (prepare) and before Worker builds.
import { copyFileSync, mkdirSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const require = createRequire(import.meta.url);
const dist = dirname(require.resolve("swagger-ui-dist/package.json"));
const out = join(dirname(fileURLToPath(import.meta.url)), "../dist/assets/api/docs");
mkdirSync(out, { recursive: true });
for (const f of ["swagger-ui-bundle.js", "swagger-ui.css"]) copyFileSync(join(dist, f), join(out, f));
console.log(`docs assets copied to ${out}`);
