/**
 * Vitest global set-up: the edge-exe project runs the edge suites against
 * dist/chamicore-edge, the single executable; it is built here from the
 * current sources every run (under a second), never tested stale.
 */
import { execFileSync } from "node:child_process";
import { join } from "node:path";

export default function setup() {
  execFileSync(process.execPath, [join(import.meta.dirname, "../../scripts/build-edge.mjs")], {
    stdio: ["ignore", "ignore", "inherit"],
  });
}
