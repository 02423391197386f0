/**
 * The address of the client behind a request: the TCP peer, or, when the
 * peer is a trusted proxy, the right-most address in X-Forwarded-For that is
 * not itself a trusted proxy. Anyone can write an X-Forwarded-For header, so
 * it is believed only as far as a chain of trusted proxies vouches for it.
 *
 * Addresses come out canonical (IPv4 dotted quad; IPv6 in RFC 5952 form,
 * IPv4-mapped IPv6 as plain IPv4) so that they compare as strings.
 */

interface Ip {
  /** 4 bytes for IPv4, 16 for IPv6. */
  bytes: number[];
}

interface Cidr {
  bytes: number[];
  prefix: number;
}

function parseV4(s: string): number[] | undefined {
  const parts = s.split(".");
  if (parts.length !== 4) return undefined;
  const out: number[] = [];
  for (const p of parts) {
    // No leading zeros: some parsers read them as octal, so they are ambiguous.
    if (!/^(0|[1-9]\d{0,2})$/.test(p)) return undefined;
    const n = Number(p);
    if (n > 255) return undefined;
    out.push(n);
  }
  return out;
}

function parseV6(input: string): number[] | undefined {
  if (!/^[0-9a-fA-F:.]+$/.test(input)) return undefined;
  let s = input;
  // An embedded IPv4 address in the last 32 bits (::ffff:10.0.0.1) becomes two hex groups.
  const lastColon = s.lastIndexOf(":");
  if (lastColon >= 0 && s.slice(lastColon + 1).includes(".")) {
    const v4 = parseV4(s.slice(lastColon + 1));
    if (!v4) return undefined;
    const hi = ((v4[0]! << 8) | v4[1]!).toString(16);
    const lo = ((v4[2]! << 8) | v4[3]!).toString(16);
    s = `${s.slice(0, lastColon + 1)}${hi}:${lo}`;
  }
  const halves = s.split("::");
  if (halves.length > 2) return undefined;
  const groups = (h: string) => (h === "" ? [] : h.split(":"));
  const head = groups(halves[0]!);
  const tail = halves.length === 2 ? groups(halves[1]!) : [];
  for (const g of [...head, ...tail]) if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return undefined;
  const given = head.length + tail.length;
  if (halves.length === 1 ? given !== 8 : given > 7) return undefined;
  const zeros = Array.from({ length: 8 - given }, () => 0);
  const words = [
    ...head.map((g) => Number.parseInt(g, 16)),
    ...zeros,
    ...tail.map((g) => Number.parseInt(g, 16)),
  ];
  return words.flatMap((w) => [w >> 8, w & 0xff]);
}

function parseIp(input: string): Ip | undefined {
  const s = input.trim();
  const v4 = parseV4(s);
  if (v4) return { bytes: v4 };
  const v6 = parseV6(s);
  if (!v6) return undefined;
  // IPv4-mapped IPv6 (::ffff:a.b.c.d), as dual-stack sockets report IPv4 peers.
  const mapped = v6.slice(0, 10).every((b) => b === 0) && v6[10] === 0xff && v6[11] === 0xff;
  return { bytes: mapped ? v6.slice(12) : v6 };
}

function format(ip: Ip): string {
  if (ip.bytes.length === 4) return ip.bytes.join(".");
  const words: number[] = [];
  for (let i = 0; i < 16; i += 2) words.push((ip.bytes[i]! << 8) | ip.bytes[i + 1]!);
  // RFC 5952: compress the longest run of two or more zero words (the first on a tie).
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && words[j] === 0) j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (ws: number[]) => ws.map((w) => w.toString(16)).join(":");
  if (best < 0) return hex(words);
  return `${hex(words.slice(0, best))}::${hex(words.slice(best + bestLen))}`;
}

/** The canonical text of an IP address, or undefined when it is not one. */
export function canonicalIp(input: string): string | undefined {
  const ip = parseIp(input);
  return ip && format(ip);
}

/** `10.0.0.0/8`, `fd00::/8`, or a single address (a /32 or /128). */
export function parseCidr(input: string): Cidr | undefined {
  const [addr, len, extra] = input.trim().split("/");
  if (extra !== undefined || addr === undefined) return undefined;
  const ip = parseIp(addr);
  if (!ip) return undefined;
  const max = ip.bytes.length * 8;
  // A mapped IPv6 CIDR (::ffff:10.0.0.0/104) became IPv4: shift its prefix accordingly.
  const mappedShift = ip.bytes.length === 4 && addr.includes(":") ? 96 : 0;
  if (len !== undefined && !/^\d{1,3}$/.test(len)) return undefined;
  const prefix = len === undefined ? max : Number(len) - mappedShift;
  if (prefix < 0 || prefix > max) return undefined;
  return { bytes: ip.bytes, prefix };
}

function contains(cidr: Cidr, ip: Ip): boolean {
  if (cidr.bytes.length !== ip.bytes.length) return false;
  let bits = cidr.prefix;
  for (let i = 0; bits > 0; i++, bits -= 8) {
    const mask = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
    if ((cidr.bytes[i]! & mask) !== (ip.bytes[i]! & mask)) return false;
  }
  return true;
}

/** Whether `address` lies in one of `cidrs` (unparsable entries match nothing). */
export function inAnyCidr(address: string, cidrs: readonly string[]): boolean {
  const ip = parseIp(address);
  if (!ip) return false;
  return parsedCidrs(cidrs).some((c) => contains(c, ip));
}

const cache = new WeakMap<readonly string[], Cidr[]>();
function parsedCidrs(cidrs: readonly string[]): Cidr[] {
  let parsed = cache.get(cidrs);
  if (!parsed) {
    parsed = cidrs.map(parseCidr).filter((c): c is Cidr => c !== undefined);
    cache.set(cidrs, parsed);
  }
  return parsed;
}

/** One X-Forwarded-For hop without a port or brackets: `[::1]:80` → `::1`, `10.0.0.1:5000` → `10.0.0.1`. */
function hopAddress(hop: string): string {
  const s = hop.trim();
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(s);
  if (bracketed) return bracketed[1]!;
  const v4port = /^([0-9.]+):\d+$/.exec(s);
  return v4port ? v4port[1]! : s;
}

/**
 * The client's canonical address. `peer` is the TCP peer (undefined when the
 * runtime cannot tell); `forwardedFor` the X-Forwarded-For header(s). The
 * header counts only when the peer is in `trustedProxies`; then hops are read
 * from the right, skipping trusted proxies, and the first other one is the
 * client. A malformed hop makes the address unknown (undefined) rather than
 * a guess; when every hop is trusted, the left-most one is the client.
 */
export function clientAddress(
  peer: string | undefined,
  forwardedFor: string | undefined,
  trustedProxies: readonly string[],
): string | undefined {
  if (peer === undefined) return undefined;
  const peerIp = parseIp(peer);
  if (!peerIp) return undefined;
  const trusted = parsedCidrs(trustedProxies);
  const isTrusted = (ip: Ip) => trusted.some((c) => contains(c, ip));
  if (!forwardedFor || !isTrusted(peerIp)) return format(peerIp);
  const hops = forwardedFor
    .split(",")
    .map((h) => h.trim())
    .filter(Boolean);
  let client = peerIp;
  for (let i = hops.length - 1; i >= 0; i--) {
    const ip = parseIp(hopAddress(hops[i]!));
    if (!ip) return undefined;
    client = ip;
    if (!isTrusted(ip)) break;
  }
  return format(client);
}
