/**
 * The Swagger UI files behind /api/docs, from the swagger-ui-dist package
 * (no CDN: sites run offline), read once on first use. The Worker serves
 * the same files as static assets (scripts/gen-docs-assets.mjs).
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { DocsAsset } from "../../functions/env";

const dist = () => dirname(createRequire(import.meta.url).resolve("swagger-ui-dist/package.json"));

export function swaggerUiFiles(): (name: DocsAsset) => string {
  const read = new Map<DocsAsset, string>();
  return (name) => {
    let text = read.get(name);
    if (text === undefined) {
      text = readFileSync(join(dist(), name), "utf8");
      read.set(name, text);
    }
    return text;
  };
}
