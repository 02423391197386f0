/**
 * Vitest global set-up: the servers under test serve the web UI from
 * dist/assets/ui. It is rebuilt here when a file it is built from is newer
 * than the build, so that a browser test after an edit never sees a stale UI.
 */
import { execFileSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const ROOT = join(import.meta.dirname, "../..");
const SOURCES = ["control/ui", "shared/client", "shared/enum-values.ts", "shared/http/ui-headers.ts"];
const BUILT = join(ROOT, "dist/assets/ui/index.html");

function newest(path: string): number {
  const s = statSync(path);
  if (!s.isDirectory()) return s.mtimeMs;
  return Math.max(0, ...readdirSync(path).map((f) => newest(join(path, f))));
}

export default function setup() {
  const built = existsSync(BUILT) ? statSync(BUILT).mtimeMs : 0;
  if (Math.max(...SOURCES.map((s) => newest(join(ROOT, s)))) <= built) return;
  execFileSync(
    process.execPath,
    [join(ROOT, "node_modules/vite/bin/vite.js"), "build", "--config", "control/ui/vite.config.ts"],
    {
      cwd: ROOT,
      stdio: "inherit",
    },
  );
}
