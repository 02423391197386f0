/**
 * The address of the client behind a request: the TCP peer, or, when the
 * peer is a trusted proxy, the right-most address in X-Forwarded-For that is
 * not itself a trusted proxy. Anyone can write an X-Forwarded-For header, so
 * it is believed only as far as a chain of trusted proxies vouches for it.
 *
 * Addresses come out canonical (IPv4 dotted quad; IPv6 in RFC 5952 form,
 * IPv4-mapped IPv6 as plain IPv4) so that they compare as strings.
 */

import ipaddr from "ipaddr.js";

type Ip = ipaddr.IPv4 | ipaddr.IPv6;

interface Cidr {
  ip: Ip;
  prefix: number;
}

/**
 * Parsed addresses by their text. The callers of a rack are a few thousand
 * nodes asking again and again, and parsing IPv6 (every IPv4 peer of a
 * dual-stack socket) costs microseconds on the edge's hot path; the memo is
 * dropped whole when it grows past its bound, so junk cannot grow it.
 */
const memo = new Map<string, Ip | null>();
const MEMO_MAX = 65_536;

/** Longer than any address with a port and brackets: never kept, so junk cannot grow the memo. */
const MEMO_KEY_MAX = 64;

function parseIp(input: string): Ip | undefined {
  if (input.length > MEMO_KEY_MAX) return parseText(input);
  let ip = memo.get(input);
  if (ip === undefined) {
    if (memo.size >= MEMO_MAX) memo.clear();
    ip = parseText(input) ?? null;
    memo.set(input, ip);
  }
  return ip ?? undefined;
}

function parseText(input: string): Ip | undefined {
  const s = input.trim();
  // Four decimal parts only: "010.0.0.1" and "10.1" are IPv4 to some parsers and not to others.
  if (ipaddr.IPv4.isValidFourPartDecimal(s)) return ipaddr.IPv4.parse(s);
  // A zone (fe80::1%eth0) names an interface of the host that wrote it: meaningless here.
  if (s.includes("%") || !ipaddr.IPv6.isValid(s)) return undefined;
  // The same rule for an IPv4 address written inside IPv6 (::ffff:10.0.0.1).
  const tail = s.slice(s.lastIndexOf(":") + 1);
  if (tail.includes(".") && !ipaddr.IPv4.isValidFourPartDecimal(tail)) return undefined;
  const v6 = ipaddr.IPv6.parse(s);
  if (!v6.isIPv4MappedAddress()) return v6;
  // ipaddr.js reads the deprecated IPv4-compatible form (::a.b.c.d) as mapped; it is not.
  if (tail.includes(".") && !/:ffff:[\d.]+$/i.test(s))
    return new ipaddr.IPv6([0, 0, 0, 0, 0, 0, v6.parts[6]!, v6.parts[7]!]);
  // IPv4-mapped IPv6 (::ffff:a.b.c.d), as dual-stack sockets report IPv4 peers.
  return v6.toIPv4Address();
}

/** RFC 5952 for IPv6 (lower case, the longest zero run compressed). */
function format(ip: Ip): string {
  return ip.kind() === "ipv4" ? ip.toString() : (ip as ipaddr.IPv6).toRFC5952String();
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
  const max = ip.kind() === "ipv4" ? 32 : 128;
  // A mapped IPv6 CIDR (::ffff:10.0.0.0/104) became IPv4: shift its prefix accordingly.
  const mappedShift = max === 32 && addr.includes(":") ? 96 : 0;
  if (len !== undefined && !/^\d{1,3}$/.test(len)) return undefined;
  const prefix = len === undefined ? max : Number(len) - mappedShift;
  if (prefix < 0 || prefix > max) return undefined;
  return { ip, prefix };
}

function contains(cidr: Cidr, ip: Ip): boolean {
  return cidr.ip.kind() === ip.kind() && ip.match(cidr.ip, cidr.prefix);
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
