/**
 * Vitest global set-up: the tests spawn the `chamicore` bin, which runs the
 * bundle in dist/cli. It is rebuilt here whenever a file it was built from
 * has changed since, so that a run after an edit never tests a stale build.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";

export default function setup() {
  execFileSync(process.execPath, [join(import.meta.dirname, "../../scripts/build-cli.mjs"), "--if-stale"], {
    stdio: "inherit",
  });
}
