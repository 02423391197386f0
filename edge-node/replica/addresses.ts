/**
 * Address keys for the replica's address lookup, matching what the control
 * plane's Postgres query treats as the same address: it casts both sides to
 * `inet` (only stored values made of hex digits, ':' and '.'), and `inet`
 * equality compares the family too, so `::ffff:10.0.0.1` is not `10.0.0.1`
 * there even though shared/http/client-address.ts canonicalises a caller at
 * `::ffff:10.0.0.1` to `10.0.0.1`. The key is that canonical text, except
 * that an IPv4-mapped IPv6 address keeps an IPv6 spelling (`::ffff:a.b.c.d`)
 * so that it never equals a plain IPv4 key.
 */
import { canonicalIp } from "../../shared/http/client-address";

/** What the Postgres query is willing to cast to `inet` (anything else never matches). */
const CASTABLE = /^[0-9A-Fa-f:.]+$/;

/** The lookup key of an address, or undefined when it is not one (it then matches nothing). */
export function addressKey(address: string): string | undefined {
  if (!CASTABLE.test(address)) return undefined;
  const canonical = canonicalIp(address);
  if (canonical === undefined) return undefined;
  // canonicalIp turns only IPv4-mapped IPv6 into dotted IPv4: keep those IPv6.
  return address.includes(":") && !canonical.includes(":") ? `::ffff:${canonical}` : canonical;
}
