/**
 * The directory the edge serves the iPXE binaries from (TFTP and
 * `/boot/v1/ipxe/{file}`), and the one place a requested name becomes an
 * open file. The name comes from a booting node, so it is confined:
 *
 * - a relative path of plain names: absolute paths, `..`, `.`, empty
 *   segments and backslashes are refused (access violation);
 * - symbolic links are followed while they stay inside the directory; one
 *   leading outside is followed only when root owns the link itself, as
 *   Debian's `ipxe` package does (`/usr/lib/ipxe/ipxe.efi → /boot/ipxe.efi`):
 *   such a link is the administrator's choice, as much as a file of theirs
 *   would be. A link anyone else made that leads outside is refused;
 * - only regular files are served (a directory is "not found").
 *
 * Files are opened per request and read by position (the page cache keeps
 * the few binaries hot, and they are small: no cache of our own); nothing is
 * read into memory here.
 */
import { constants, type Stats } from "node:fs";
import { type FileHandle, lstat, open, realpath, stat } from "node:fs/promises";
import { join, sep } from "node:path";

export type RefusalReason = "not-found" | "access";

/** A name that is not served, and why (TFTP error 1 or 2, HTTP 404 either way). */
export class FileRefused extends Error {
  constructor(
    readonly reason: RefusalReason,
    message: string,
  ) {
    super(message);
  }
}

export interface OpenedFile {
  handle: FileHandle;
  /** Its real path, links resolved (for a runtime's own file body: HTTP). */
  path: string;
  size: number;
  mtimeMs: number;
}

const code = (e: unknown) => (e as NodeJS.ErrnoException).code;

/** The system error as a refusal: missing is "not found", anything else "access". */
function refusal(e: unknown, name: string): FileRefused {
  const c = code(e);
  return c === "ENOENT" || c === "ENOTDIR" || c === "ELOOP"
    ? new FileRefused("not-found", `${name}: no such file`)
    : new FileRefused("access", `${name}: cannot be read`);
}

export class IpxeDir {
  private constructor(
    /** As configured. */
    readonly dir: string,
    /** Its real path, symbolic links resolved: what "inside" means. */
    private readonly root: string,
  ) {}

  /** The directory `dir`; throws with a message naming `variable` when it is not a readable directory. */
  static async open(dir: string, variable: string): Promise<IpxeDir> {
    let root: string;
    let st: Stats;
    try {
      root = await realpath(dir);
      st = await stat(root);
    } catch (e) {
      throw new Error(`${variable}=${dir}: ${(e as Error).message}`);
    }
    if (!st.isDirectory()) throw new Error(`${variable}=${dir}: not a directory`);
    return new IpxeDir(dir, root);
  }

  private inside(path: string): boolean {
    return path === this.root || path.startsWith(this.root.endsWith(sep) ? this.root : this.root + sep);
  }

  /** Opens `name` for reading; throws `FileRefused`. The caller closes the handle. */
  async open(name: string): Promise<OpenedFile> {
    if (name.startsWith("/")) throw new FileRefused("access", `${name}: absolute paths are not served`);
    const segments = name.split("/");
    if (name.includes("\\") || segments.some((s) => s === "" || s === "." || s === ".."))
      throw new FileRefused("access", `${name}: only a plain relative path inside the directory is served`);
    let path = this.root;
    for (const segment of segments) {
      const next = join(path, segment);
      let link: Stats;
      try {
        link = await lstat(next);
      } catch (e) {
        throw refusal(e, name);
      }
      if (!link.isSymbolicLink()) {
        path = next;
        continue;
      }
      const target = await realpath(next).catch((e) => {
        throw refusal(e, name);
      });
      if (!this.inside(target) && link.uid !== 0)
        throw new FileRefused("access", `${name}: a link leading outside the directory`);
      path = target;
    }
    let handle: FileHandle;
    try {
      // O_NOFOLLOW: the last name was resolved above; a link swapped in since is not followed.
      handle = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW);
    } catch (e) {
      throw refusal(e, name);
    }
    try {
      const st = await handle.stat();
      if (!st.isFile()) throw new FileRefused("not-found", `${name}: not a file`);
      return { handle, path, size: st.size, mtimeMs: st.mtimeMs };
    } catch (e) {
      await handle.close();
      throw e instanceof FileRefused ? e : refusal(e, name);
    }
  }
}
