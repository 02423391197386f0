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
