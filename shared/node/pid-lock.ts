/**
 * A lock file holding its holder's pid, for work one process at a time may
 * do on a directory (an embedded database, an edge's bundle import). One
 * left by a process that died (`kill -9`, a power cut) is taken over.
 */
import { readFileSync, rmSync, writeFileSync } from "node:fs";

/** Takes `path`; `busy` makes the error for a holder still running. Returns the release. */
export function pidLock(path: string, busy: (pid: number) => Error): () => void {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      writeFileSync(path, String(process.pid), { flag: "wx" });
      return () => rmSync(path, { force: true });
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
      const pid = Number(readFileSync(path, "utf8"));
      if (pid && pid !== process.pid && alive(pid)) throw busy(pid);
      rmSync(path, { force: true });
    }
  }
  throw busy(0);
}

/** Whether process `pid` still runs (EPERM: it does, as another user). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
