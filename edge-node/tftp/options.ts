/**
 * Option negotiation for a read request (RFC 2347): blksize (RFC 2348),
 * tsize and timeout (RFC 2349), windowsize (RFC 7440). Options the server
 * does not know, or whose value is out of range, are left out of the OACK,
 * which is how RFC 2347 has a server decline them; a request with no option
 * accepted gets no OACK at all and its data straight away.
 */

/** RFC 1350's block size, when none is negotiated. */
export const DEFAULT_BLKSIZE = 512;
/** RFC 2348's range. */
export const MIN_BLKSIZE = 8;
export const MAX_BLKSIZE = 65464;
/** Seconds before a block is sent again, when the client asks for no timeout. */
export const DEFAULT_TIMEOUT_SECONDS = 1;
/**
 * The largest window granted, in blocks and in bytes: a window is read from
 * disk and sent as one burst, so these bound what one transfer holds at once
 * and throws at the rack's switch (64 × 1468 bytes at Ethernet's usual MTU).
 */
export const MAX_WINDOWSIZE = 64;
export const MAX_WINDOW_BYTES = 128 * 1024;

export interface Negotiated {
  blksize: number;
  windowsize: number;
  timeoutMs: number;
  /** The OACK's options, in the order asked; empty: no OACK. */
  reply: [string, string][];
}

const whole = (v: string) => (/^\d{1,10}$/.test(v) ? Number(v) : undefined);

/** What this server grants for a read request asking `asked` of a file of `size` bytes. */
export function negotiateOptions(asked: ReadonlyMap<string, string>, size: number): Negotiated {
  let blksize = DEFAULT_BLKSIZE;
  let timeout = DEFAULT_TIMEOUT_SECONDS;
  const granted = new Map<string, string>();
  const b = whole(asked.get("blksize") ?? "");
  if (b !== undefined && b >= MIN_BLKSIZE) {
    blksize = Math.min(b, MAX_BLKSIZE);
    granted.set("blksize", String(blksize));
  }
  // A reader sends 0; the answer is the file's size.
  if (asked.has("tsize") && whole(asked.get("tsize")!) !== undefined) granted.set("tsize", String(size));
  // RFC 2349: the server answers with the value asked or not at all.
  const t = whole(asked.get("timeout") ?? "");
  if (t !== undefined && t >= 1 && t <= 255) {
    timeout = t;
    granted.set("timeout", String(t));
  }
  let windowsize = 1;
  const w = whole(asked.get("windowsize") ?? "");
  if (w !== undefined && w >= 1 && w <= 65535) {
    windowsize = Math.max(1, Math.min(w, MAX_WINDOWSIZE, Math.floor(MAX_WINDOW_BYTES / blksize)));
    granted.set("windowsize", String(windowsize));
  }
  const reply = [...asked.keys()]
    .filter((k) => granted.has(k))
    .map((k): [string, string] => [k, granted.get(k)!]);
  return { blksize, windowsize, timeoutMs: timeout * 1000, reply };
}
