/**
 * A target's addresses as written: BMC addresses, and IPv4 ranges that
 * stand for many. Ranges are spelled out when the target is stored, so a
 * target always lists the BMCs it scans (and `{index}` in a naming rule
 * counts them in that order).
 *
 * - last octet: `10.1.3.100-131`, also with a scheme and port
 *   (`https://10.1.3.100-131:8443`);
 * - whole addresses: `10.1.3.250-10.1.4.5`.
 */
import { ADDRESS_RULE, normalizeAddress } from "../power/schemas";

export const MAX_TARGET_ADDRESSES = 4096;
export const TARGET_ADDRESS_RULE = `${ADDRESS_RULE}, or an IPv4 range (10.1.3.100-131, 10.1.3.250-10.1.4.5)`;

const LAST_OCTET = /^((?:[a-z]+:\/\/)?\d{1,3}\.\d{1,3}\.\d{1,3}\.)(\d{1,3})-(\d{1,3})(:\d+)?$/i;
const WHOLE = /^(\d{1,3}(?:\.\d{1,3}){3})-(\d{1,3}(?:\.\d{1,3}){3})$/;

const ipv4 = (s: string): number | undefined => {
  const parts = s.split(".").map(Number);
  if (parts.length !== 4 || parts.some((p) => !Number.isInteger(p) || p > 255)) return undefined;
  return ((parts[0]! << 24) | (parts[1]! << 16) | (parts[2]! << 8) | parts[3]!) >>> 0;
};
const dotted = (n: number) => [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join(".");

/**
 * The addresses one entry stands for, normalized (a URL's origin), or
 * what is wrong when it is neither an address nor a range.
 */
export function expandAddress(entry: string): string[] | { error: string } {
  const s = entry.trim();
  const last = LAST_OCTET.exec(s);
  if (last) {
    const [from, to] = [Number(last[2]), Number(last[3])];
    if (from > to || to > 255) return { error: `a range A.B.C.X-Y needs X ≤ Y ≤ 255, not ${from}-${to}` };
    return expandOrSay(
      Array.from({ length: to - from + 1 }, (_, i) => `${last[1]}${from + i}${last[4] ?? ""}`),
    );
  }
  const whole = WHOLE.exec(s);
  if (whole) {
    const [from, to] = [ipv4(whole[1]!), ipv4(whole[2]!)];
    if (from === undefined || to === undefined) return { error: `${s} is not a range of IPv4 addresses` };
    if (from > to) return { error: `the range ${s} runs backwards` };
    if (to - from >= MAX_TARGET_ADDRESSES)
      return { error: `the range ${s} holds more than ${MAX_TARGET_ADDRESSES} addresses` };
    return expandOrSay(Array.from({ length: to - from + 1 }, (_, i) => dotted(from + i)));
  }
  const one = normalizeAddress(s);
  return one === undefined ? { error: `must be ${TARGET_ADDRESS_RULE}` } : [one];

  function expandOrSay(list: string[]): string[] | { error: string } {
    const out = list.map((a) => normalizeAddress(a));
    return out.every((a) => a !== undefined)
      ? (out as string[])
      : { error: `must be ${TARGET_ADDRESS_RULE}` };
  }
}
