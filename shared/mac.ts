/**
 * MAC addresses are normalised once, at the boundary, to lower-case
 * colon-separated form; everything downstream compares strings.
 */
const MAC_SHAPES = [
  /^([0-9a-f]{2})[:]([0-9a-f]{2})[:]([0-9a-f]{2})[:]([0-9a-f]{2})[:]([0-9a-f]{2})[:]([0-9a-f]{2})$/,
  /^([0-9a-f]{2})-([0-9a-f]{2})-([0-9a-f]{2})-([0-9a-f]{2})-([0-9a-f]{2})-([0-9a-f]{2})$/,
  /^([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/,
];

export const MAC_RULE = "a MAC address as aa:bb:cc:dd:ee:ff, aa-bb-cc-dd-ee-ff or aabbccddeeff";

/** `AA-BB-CC-DD-EE-FF` → `aa:bb:cc:dd:ee:ff`; undefined when it is not a MAC. */
export function normalizeMac(input: string): string | undefined {
  const s = input.trim().toLowerCase();
  for (const re of MAC_SHAPES) {
    const m = re.exec(s);
    if (m) return m.slice(1).join(":");
  }
  return undefined;
}

/**
 * Why a normalised MAC cannot be a network interface's own address, or
 * undefined when it can: the all-zero address (no address), broadcast, and
 * any group (multicast) address, whose first octet has its low bit set
 * (IEEE 802 I/G bit). DHCP and boot lookups by such a MAC would match
 * nothing or every node.
 */
export function nicMacProblem(mac: string): string | undefined {
  if (mac === "00:00:00:00:00:00") return "is the all-zero address, which no interface has";
  if (mac === "ff:ff:ff:ff:ff:ff") return "is the broadcast address, which no interface has";
  if (Number.parseInt(mac.slice(0, 2), 16) & 1)
    return "is a multicast (group) address: the first octet is odd, which no interface's own address is";
  return undefined;
}
