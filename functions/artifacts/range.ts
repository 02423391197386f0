/**
 * The Range header of a GET (RFC 9110 §14): one byte range, which is all a
 * booting node or a resuming download asks for. Several ranges are answered
 * with the whole content, which the RFC allows.
 */

export type RangeAnswer =
  /** The whole content (no Range, or one this server ignores). */
  | { kind: "full" }
  /** Bytes [start, end) of it: 206. */
  | { kind: "partial"; start: number; end: number }
  /** Nothing of it can be sent: 416 with `Content-Range: bytes *\/size`. */
  | { kind: "unsatisfiable" };

const ONE = /^bytes=(\d*)-(\d*)$/i;

export function rangeOf(header: string | undefined, size: number): RangeAnswer {
  if (header === undefined) return { kind: "full" };
  const m = ONE.exec(header.trim());
  // Not a single bytes range (several, or another unit): ignore it.
  if (!m) return { kind: "full" };
  const [, first, last] = m;
  if (first === "" && last === "") return { kind: "full" };
  if (first === "") {
    // The last N bytes.
    const n = Number(last);
    if (n === 0) return { kind: "unsatisfiable" };
    return { kind: "partial", start: Math.max(0, size - n), end: size };
  }
  const start = Number(first);
  if (start >= size) return { kind: "unsatisfiable" };
  const end = last === "" ? size : Math.min(Number(last) + 1, size);
  if (end <= start) return { kind: "full" };
  return { kind: "partial", start, end };
}
