/**
 * The web UI's build: a Vue 3 single-page app under /ui/, built into
 * dist/assets/ui/ where both runtimes serve it (Node: control/node/ui-assets.ts;
 * the Worker: wrangler.toml [assets], before the Worker runs). The same
 * build writes dist/assets/_headers so that the Worker's static files carry
 * the headers Node sets (shared/http/ui-headers.ts).
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import vue from "@vitejs/plugin-vue";
import { defineConfig, type Plugin } from "vite";
import { cacheControlOf, UI_HEADERS, UI_PATH } from "../../shared/http/ui-headers";

const here = (p: string) => fileURLToPath(new URL(p, import.meta.url));

/**
 * Cloudflare's `_headers` for the UI's files. A file matching two rules gets
 * both rules' headers, a header in both joined: so the security headers are
 * in the /ui/* rule alone, and the hashed assets' rule adds only their cache.
 */
function workerHeaders(): Plugin {
  const rule = (path: string, headers: Record<string, string>) =>
    [path, ...Object.entries(headers).map(([k, v]) => `  ${k}: ${v}`)].join("\n");
  return {
    name: "chamicore-worker-headers",
    closeBundle() {
      const text = [
        "# Written by the UI build (control/ui/vite.config.ts) from shared/http/ui-headers.ts.",
        rule(`${UI_PATH}*`, { ...UI_HEADERS }),
        rule(`${UI_PATH}assets/*`, { "Cache-Control": cacheControlOf(`${UI_PATH}assets/x`) }),
        "",
      ].join("\n");
      writeFileSync(here("../../dist/assets/_headers"), text);
    },
  };
}

export default defineConfig({
  root: here("."),
  base: UI_PATH,
  plugins: [vue(), workerHeaders()],
  logLevel: "warn",
  build: {
    outDir: here("../../dist/assets/ui"),
    emptyOutDir: true,
    target: "es2022",
    // No data: URIs for scripts or styles: every file is 'self' under the CSP.
    assetsInlineLimit: 0,
    reportCompressedSize: false,
    rollupOptions: {
      // zod's sources carry a comment Rollup cannot place (in the lazily loaded import parser): noise.
      onwarn(warning, warn) {
        if (warning.code === "INVALID_ANNOTATION" && warning.id?.includes("node_modules/zod")) return;
        warn(warning);
      },
    },
  },
});
