/**
 * The master key on Node: CHAMICORE_MASTER_KEY when set; otherwise, for the
 * embedded database only, a key file in the data directory (made on first
 * start, mode 0600). The config schema already refuses DATABASE_URL without
 * the variable.
 */
import { chmodSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { generateMasterKey } from "../../shared/auth/crypto";
import type { Logger } from "../../shared/log";

export const MASTER_KEY_FILE = "master.key";

export function resolveMasterKey(opts: {
  fromEnv: string | undefined;
  dataDir: string;
  log: Logger;
}): string {
  if (opts.fromEnv) return opts.fromEnv;
  const path = resolve(join(opts.dataDir, MASTER_KEY_FILE));
  let key: string;
  try {
    key = readFileSync(path, "utf8").trim();
    if ((statSync(path).mode & 0o077) !== 0) {
      chmodSync(path, 0o600);
      opts.log.warn("master key file was readable by others; its mode is now 0600", { path });
    }
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== "ENOENT") throw e;
    mkdirSync(opts.dataDir, { recursive: true });
    key = generateMasterKey();
    // 'wx': never overwrite a key another process has just written.
    writeFileSync(path, `${key}\n`, { mode: 0o600, flag: "wx" });
    opts.log.warn(
      "generated a master key for secrets at rest; back it up with the data directory, and set CHAMICORE_MASTER_KEY for any shared database",
      { path },
    );
    return key;
  }
  opts.log.warn("using the master key file in the data directory; set CHAMICORE_MASTER_KEY in production", {
    path,
  });
  return key;
}
