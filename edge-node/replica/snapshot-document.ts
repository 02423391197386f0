/**
 * A snapshot as the bytes the control plane sent, read one resource at a
 * time. `JSON.parse` of a whole 50,000-node snapshot (about 70 MB of JSON)
 * builds every object at once, over 150 MB of heap beside the text, only
 * for the replica to copy them into SQLite. Here the body is spooled to a
 * file as it arrives, its top-level lists are found by scanning bytes
 * through a 1 MiB window, and each element is parsed when the replica
 * writes it, then dropped: the edge's memory does not grow with the size
 * of the site.
 *
 * Only the structure is scanned (strings, brackets, commas); each element
 * is still parsed by `JSON.parse`, so anything malformed inside one is
 * refused as it would be by a whole-document parse.
 */
import { closeSync, fstatSync, openSync, readSync } from "node:fs";
import type { Snapshot } from "../../functions/events/store";

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const WHITESPACE = new Set([0x20, 0x09, 0x0a, 0x0d]);

/** What the replica reads from a snapshot, whole or lazily parsed. */
export interface SnapshotSource {
  position: unknown;
  /** The control plane's id (absent from a snapshot made before it had one). */
  source?: unknown;
  /** The elements of the top-level list `name`, parsed one by one; undefined when it is not a list. */
  list(name: string): Iterable<unknown> | undefined;
}

export class MalformedSnapshot extends Error {}

/** Random access to the document's bytes; -1 past the end. */
interface Bytes {
  readonly length: number;
  at(i: number): number;
  text(start: number, end: number): string;
  close(): void;
}

class MemoryBytes implements Bytes {
  constructor(private readonly b: Buffer) {}
  get length() {
    return this.b.length;
  }
  at(i: number) {
    return i < this.b.length ? this.b[i]! : -1;
  }
  text(start: number, end: number) {
    return this.b.toString("utf8", start, end);
  }
  close() {}
}

const WINDOW = 1 << 20;

/** A file read through one window that moves forward with the scan. */
class FileBytes implements Bytes {
  readonly length: number;
  private readonly fd: number;
  private readonly win = Buffer.allocUnsafe(WINDOW);
  private base = 0;
  private filled = 0;

  constructor(path: string) {
    this.fd = openSync(path, "r");
    this.length = fstatSync(this.fd).size;
  }

  at(i: number) {
    const k = i - this.base;
    if (k >= 0 && k < this.filled) return this.win[k]!;
    if (i >= this.length) return -1;
    this.base = i;
    this.filled = readSync(this.fd, this.win, 0, WINDOW, i);
    return this.win[0]!;
  }

  text(start: number, end: number) {
    if (start >= this.base && end <= this.base + this.filled)
      return this.win.toString("utf8", start - this.base, end - this.base);
    const b = Buffer.allocUnsafe(end - start);
    readSync(this.fd, b, 0, b.length, start);
    return b.toString("utf8");
  }

  close() {
    closeSync(this.fd);
  }
}

/** A parsed snapshot as a source (tests and callers that already hold one). */
export const snapshotSource = (s: Snapshot & { source?: string }): SnapshotSource => ({
  position: s.position,
  source: s.source,
  list: (name) => {
    const v = (s as unknown as Record<string, unknown>)[name];
    return Array.isArray(v) ? v : undefined;
  },
});

export class SnapshotDocument implements SnapshotSource {
  /** Byte range [start, end) of each top-level member's value. */
  private readonly members = new Map<string, [number, number]>();

  /** The snapshot in a file (the edge's spool), read through a window; `close()` when done. */
  static open(path: string): SnapshotDocument {
    const bytes = new FileBytes(path);
    try {
      return new SnapshotDocument(bytes);
    } catch (e) {
      bytes.close();
      throw e;
    }
  }

  private readonly buf: Bytes;

  constructor(source: Buffer | Bytes) {
    this.buf = Buffer.isBuffer(source) ? new MemoryBytes(source) : source;
    const buf = this.buf;
    let i = this.ws(0);
    if (buf.at(i) !== 0x7b) throw this.error(i, "the snapshot is not a JSON object");
    i = this.ws(i + 1);
    if (buf.at(i) === 0x7d) return;
    for (;;) {
      if (buf.at(i) !== QUOTE) throw this.error(i, "expected a member name");
      const keyEnd = this.skip(i);
      const key = JSON.parse(this.text(i, keyEnd)) as string;
      i = this.ws(keyEnd);
      if (buf.at(i) !== COLON) throw this.error(i, "expected ':'");
      const start = this.ws(i + 1);
      const end = this.skip(start);
      this.members.set(key, [start, end]);
      i = this.ws(end);
      if (buf.at(i) === COMMA) i = this.ws(i + 1);
      else if (buf.at(i) === 0x7d) break;
      else throw this.error(i, "expected ',' or '}'");
    }
    if (this.ws(i + 1) !== buf.length) throw this.error(i + 1, "unexpected data after the snapshot");
  }

  close(): void {
    this.buf.close();
  }

  get position(): unknown {
    return this.scalar("position");
  }

  get source(): unknown {
    return this.scalar("source");
  }

  private scalar(name: string): unknown {
    const m = this.members.get(name);
    return m && JSON.parse(this.text(m[0], m[1]));
  }

  list(name: string): Iterable<unknown> | undefined {
    const m = this.members.get(name);
    if (!m || this.buf.at(m[0]) !== 0x5b) return undefined;
    const [start, end] = m;
    const self = this;
    return {
      *[Symbol.iterator]() {
        let i = self.ws(start + 1);
        if (self.buf.at(i) === 0x5d) return;
        while (i < end) {
          const e = self.skip(i);
          yield JSON.parse(self.text(i, e));
          i = self.ws(e);
          if (self.buf.at(i) === COMMA) i = self.ws(i + 1);
          else if (self.buf.at(i) === 0x5d) return;
          else throw self.error(i, "expected ',' or ']'");
        }
      },
    };
  }

  private text(start: number, end: number) {
    return this.buf.text(start, end);
  }

  private ws(i: number) {
    while (WHITESPACE.has(this.buf.at(i))) i++;
    return i;
  }

  /** The index just after the JSON value starting at `i`. */
  private skip(i: number): number {
    const b = this.buf;
    const first = b.at(i);
    if (first === -1) throw this.error(i, "unexpected end");
    if (first === QUOTE) {
      for (let j = i + 1; ; j++) {
        const c = b.at(j);
        if (c === BACKSLASH) j++;
        else if (c === QUOTE) return j + 1;
        else if (c === -1) throw this.error(i, "unterminated string");
      }
    }
    if (first === 0x5b || first === 0x7b) {
      let depth = 0;
      // The hot loop (every byte of the snapshot): plain comparisons, strings skipped inline.
      for (let j = i; ; j++) {
        let c = b.at(j);
        if (c === QUOTE) {
          for (j++, c = b.at(j); c !== QUOTE && c !== -1; j++, c = b.at(j)) if (c === BACKSLASH) j++;
        } else if (c === 0x5b || c === 0x7b) depth++;
        else if ((c === 0x5d || c === 0x7d) && --depth === 0) return j + 1;
        if (c === -1) throw this.error(i, "unterminated list or object");
      }
    }
    let j = i;
    for (
      let c = first;
      c !== -1 && c !== COMMA && c !== 0x5d && c !== 0x7d && !WHITESPACE.has(c);
      c = b.at(++j)
    );
    if (j === i) throw this.error(i, "expected a value");
    return j;
  }

  private error(at: number, what: string) {
    return new MalformedSnapshot(`${what} at byte ${at} of ${this.buf.length}`);
  }
}
