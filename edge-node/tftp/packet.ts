/**
 * TFTP packets (RFC 1350) with the option extension's OACK (RFC 2347):
 * decoded from and encoded to the bytes on the wire. Pure; the transfer
 * logic is in transfer.ts.
 */

export const OPCODE = { RRQ: 1, WRQ: 2, DATA: 3, ACK: 4, ERROR: 5, OACK: 6 } as const;

/** RFC 1350's error codes, and RFC 2347's 8 (an option refused). */
export const TFTP_ERROR = {
  UNDEFINED: 0,
  FILE_NOT_FOUND: 1,
  ACCESS_VIOLATION: 2,
  DISK_FULL: 3,
  ILLEGAL_OPERATION: 4,
  UNKNOWN_TID: 5,
  FILE_EXISTS: 6,
  NO_SUCH_USER: 7,
  OPTION_REFUSED: 8,
} as const;

/** RFC 2347: a request with its options fits in 512 octets. */
export const MAX_REQUEST_BYTES = 512;

/** A read or write request. */
export interface Request {
  op: "rrq" | "wrq";
  file: string;
  /** Lower-cased: `octet`, `netascii`, `mail`, or whatever the client sent. */
  mode: string;
  /** Option names lower-cased (they are case-insensitive), values as sent; the first of a repeated name wins. */
  options: Map<string, string>;
}

export type Packet =
  | Request
  | { op: "data"; block: number; data: Uint8Array }
  | { op: "ack"; block: number }
  | { op: "error"; code: number; message: string }
  | { op: "oack"; options: Map<string, string> };

const latin1 = new TextDecoder("latin1");

/** The NUL-terminated strings from `start` to the end of `buf`; undefined if the last one is unterminated. */
function strings(buf: Uint8Array, start: number): string[] | undefined {
  const out: string[] = [];
  let from = start;
  for (let i = start; i < buf.length; i++)
    if (buf[i] === 0) {
      out.push(latin1.decode(buf.subarray(from, i)));
      from = i + 1;
    }
  return from === buf.length ? out : undefined;
}

function optionMap(pairs: string[]): Map<string, string> | undefined {
  if (pairs.length % 2) return undefined;
  const options = new Map<string, string>();
  for (let i = 0; i < pairs.length; i += 2) {
    const name = pairs[i]!.toLowerCase();
    if (!name) return undefined;
    if (!options.has(name)) options.set(name, pairs[i + 1]!);
  }
  return options;
}

/** The packet in `buf`, or undefined when it is not a well-formed TFTP packet. */
export function decodePacket(buf: Uint8Array): Packet | undefined {
  if (buf.length < 4) return undefined;
  const op = (buf[0]! << 8) | buf[1]!;
  const word = (buf[2]! << 8) | buf[3]!;
  switch (op) {
    case OPCODE.RRQ:
    case OPCODE.WRQ: {
      if (buf.length > MAX_REQUEST_BYTES) return undefined;
      const s = strings(buf, 2);
      if (!s || s.length < 2 || !s[0]) return undefined;
      const options = optionMap(s.slice(2));
      if (!options) return undefined;
      return { op: op === OPCODE.RRQ ? "rrq" : "wrq", file: s[0], mode: s[1]!.toLowerCase(), options };
    }
    case OPCODE.DATA:
      return { op: "data", block: word, data: buf.subarray(4) };
    case OPCODE.ACK:
      return buf.length === 4 ? { op: "ack", block: word } : undefined;
    case OPCODE.ERROR: {
      // Some clients leave the message's NUL off; take what is there.
      const end = buf.indexOf(0, 4);
      return { op: "error", code: word, message: latin1.decode(buf.subarray(4, end < 0 ? buf.length : end)) };
    }
    case OPCODE.OACK: {
      const s = strings(buf, 2);
      const options = s && optionMap(s);
      return options ? { op: "oack", options } : undefined;
    }
    default:
      return undefined;
  }
}

const ascii = (s: string) => Buffer.from(s, "latin1");

function header(op: number, word: number, extra: number): Buffer {
  const b = Buffer.allocUnsafe(4 + extra);
  b.writeUInt16BE(op, 0);
  b.writeUInt16BE(word & 0xffff, 2);
  return b;
}

/**
 * A DATA packet with room for `length` bytes of payload, which the caller
 * writes at offset 4. The block number goes on the wire modulo 65536: after
 * 65535 comes 0.
 */
export function dataPacket(block: number, length: number): Buffer {
  return header(OPCODE.DATA, block, length);
}

export function ackPacket(block: number): Buffer {
  return header(OPCODE.ACK, block, 0);
}

export function errorPacket(code: number, message: string): Buffer {
  // Kept short: an error is one datagram and some firmware prints it on a console line.
  const text = ascii(message.slice(0, 200));
  const b = header(OPCODE.ERROR, code, text.length + 1);
  text.copy(b, 4);
  b[b.length - 1] = 0;
  return b;
}

export function oackPacket(options: readonly (readonly [string, string])[]): Buffer {
  const parts = [Buffer.from([0, OPCODE.OACK])];
  for (const [name, value] of options) parts.push(ascii(`${name}\0${value}\0`));
  return Buffer.concat(parts);
}
