/**
 * The web UI's built files (dist/assets/ui, `npm run build:ui`, run by
 * `npm install`) served by the Node control plane at /ui/. A checkout that
 * has not built them answers 404 there and says so once at start.
 */
import { existsSync } from "node:fs";
import { join } from "node:path";
import { serveStatic } from "@hono/node-server/serve-static";
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "../../functions/env";
import { PACKAGE_ROOT } from "../db/node";

const ASSETS = join(PACKAGE_ROOT, "dist/assets");
export const UI_INDEX = join(ASSETS, "ui/index.html");

/** The file handler, or undefined when the UI is not built. */
export function uiFiles(): MiddlewareHandler<AppEnv> | undefined {
  if (!existsSync(UI_INDEX)) return undefined;
  return serveStatic({ root: ASSETS });
}
