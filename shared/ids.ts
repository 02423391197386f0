/**
 * Component identity: the ID rule, server-generated IDs and xnames.
 */

/** 2–255 characters, alphanumeric at both ends, `._-` inside (plan ADR-010). */
export const ID_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9._-]{0,253}[a-zA-Z0-9]$/;
export const ID_RULE =
  "2–255 characters: letters, digits, '.', '_' or '-', starting and ending with a letter or digit";

export const isValidId = (id: string) => ID_PATTERN.test(id);

/** Random lower-case hex from the platform CSPRNG (WebCrypto in both runtimes). */
export function randomHex(bytes: number): string {
  const buf = new Uint8Array(bytes);
  crypto.getRandomValues(buf);
  let s = "";
  for (const b of buf) s += b.toString(16).padStart(2, "0");
  return s;
}

/** `<type-lower>-<8 hex>`, e.g. `node-1a2b3c4d`. */
export const generateId = (type: string) => `${type.toLowerCase()}-${randomHex(4)}`;

/**
 * xname grammar (HPE/Cray HMS, used by OpenCHAMI): each pattern maps to the
 * component type it names. Ordered longest first so the most specific wins.
 */
const XNAME_TYPES: [RegExp, string][] = [
  [/^x\d+c\d+s\d+b\d+n\d+p\d+$/, "Processor"],
  [/^x\d+c\d+s\d+b\d+n\d+d\d+$/, "Memory"],
  [/^x\d+c\d+s\d+b\d+n\d+a\d+$/, "NodeAccel"],
  [/^x\d+c\d+s\d+b\d+n\d+h\d+$/, "NodeHsnNic"],
  [/^x\d+c\d+s\d+b\d+n\d+i\d+$/, "NodeNic"],
  [/^x\d+c\d+s\d+b\d+n\d+$/, "Node"],
  [/^x\d+c\d+s\d+b\d+$/, "NodeBMC"],
  [/^x\d+c\d+s\d+e\d+$/, "NodeEnclosure"],
  [/^x\d+c\d+s\d+$/, "ComputeModule"],
  [/^x\d+c\d+r\d+b\d+$/, "RouterBMC"],
  [/^x\d+c\d+r\d+$/, "RouterModule"],
  [/^x\d+c\d+w\d+$/, "MgmtSwitch"],
  [/^x\d+c\d+h\d+s\d+$/, "MgmtHLSwitch"],
  [/^x\d+c\d+h\d+$/, "MgmtHLSwitchEnclosure"],
  [/^x\d+c\d+b\d+$/, "ChassisBMC"],
  [/^x\d+c\d+$/, "Chassis"],
  [/^x\d+m\d+p\d+j\d+$/, "CabinetPDUOutlet"],
  [/^x\d+m\d+p\d+$/, "CabinetPDU"],
  [/^x\d+m\d+$/, "CabinetPDUController"],
  [/^x\d+b\d+$/, "CabinetBMC"],
  [/^x\d+$/, "Cabinet"],
  [/^d\d+w\d+$/, "CDUMgmtSwitch"],
  [/^d\d+$/, "CDU"],
  [/^s0$/, "System"],
];

export interface Xname {
  type: string;
  /** The cabinet part (`x1000`), which Chamicore uses as the rack by default. */
  cabinet: string | undefined;
  /** The xname of the parent in the xname tree, if any. */
  parent: string | undefined;
}

/** Parse an xname (case-insensitive, normalised to lower case); undefined if it is not one. */
export function parseXname(id: string): Xname | undefined {
  const x = id.toLowerCase();
  for (const [re, type] of XNAME_TYPES) {
    if (!re.test(x)) continue;
    const cabinet = /^x\d+/.exec(x)?.[0];
    const m = /^(.*\d)[a-z]+\d+$/.exec(x);
    return { type, cabinet, parent: m?.[1] };
  }
  return undefined;
}

export const isXname = (id: string) => parseXname(id) !== undefined;
