/**
 * The rules for text that ends up inside an iPXE script (kernel and initrd
 * URIs, the kernel command line), and the placeholders boot parameters may
 * use. Checked when parameters are written (422) and again before a script
 * is rendered, so that a bad row can never produce a broken script.
 *
 * iPXE splits a command line on whitespace only (no quoting); a word that
 * is exactly `||`, `&&` or `;` ends the command and a word starting with `#`
 * starts a comment, so such words cannot appear in a command line. `${…}`
 * is an iPXE setting reference, expanded by iPXE on the node.
 */

/** Placeholders replaced by the booting component's facts. */
export const SUBSTITUTIONS = ["id", "nid", "role", "mac"] as const;
export type Substitution = (typeof SUBSTITUTIONS)[number];

export const SUBSTITUTION_RULE = `Placeholders {id}, {nid}, {role} and {mac} are replaced by the booting component's id, nid, role and MAC; any other {name} is refused. \${…} is an iPXE setting reference, left for iPXE to expand.`;

export const URI_MAX = 2048;
export const CMDLINE_MAX = 4096;

/** Schemes iPXE can fetch a kernel or initrd over. */
export const URI_SCHEMES = ["http:", "https:", "tftp:", "ftp:", "nfs:"] as const;

/** iPXE setting types usable as `${name:type}`. */
export const IPXE_SETTING_TYPES = [
  "string",
  "uristring",
  "ipv4",
  "ipv6",
  "int8",
  "int16",
  "int32",
  "uint8",
  "uint16",
  "uint32",
  "hex",
  "hexhyp",
  "hexraw",
  "base64",
  "uuid",
  "busdevfn",
  "dnssl",
  "guid",
] as const;

/** `[scope/]name[:type]`, split as iPXE's parse_setting_name does (scope up to the first /, type after the first :). */
const SETTING_NAME = /^(?:[A-Za-z0-9_.-]+\/)?([A-Za-z0-9_.-]+)(?::([a-z0-9]+))?$/;

/** Whether `name` (the inside of `${…}`) is a setting reference iPXE understands: `[scope/]name[:type]`. */
export function isSettingName(name: string): boolean {
  const m = SETTING_NAME.exec(name);
  return !!m && (m[2] === undefined || (IPXE_SETTING_TYPES as readonly string[]).includes(m[2]));
}

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this finds.
const CONTROL = /[\x00-\x1f\x7f]/;
const PLACEHOLDER = /(?<!\$)\{(id|nid|role|mac)\}/g;

/** `${…}` references and `{…}` placeholders: what is wrong with them in `s`, if anything. */
function checkBraces(s: string): string | undefined {
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch === "$" && s[i + 1] === "{") {
      const end = s.indexOf("}", i + 2);
      if (end < 0) return `has a \${ without its closing }`;
      const name = s.slice(i + 2, end);
      if (!isSettingName(name))
        return `has \${${name}}, which is not an iPXE setting reference ([scope/]name[:type])`;
      i = end;
    } else if (ch === "{") {
      const end = s.indexOf("}", i + 1);
      const name = end < 0 ? "" : s.slice(i + 1, end);
      if (!(SUBSTITUTIONS as readonly string[]).includes(name))
        return /^[A-Za-z0-9_.-]+$/.test(name)
          ? `has an unknown placeholder {${name}}; the placeholders are {id}, {nid}, {role} and {mac}`
          : `has a { that starts neither a placeholder ({id}, {nid}, {role}, {mac}) nor an iPXE \${…} reference`;
      i = end;
    } else if (ch === "}") return "has a } without its opening {";
  }
  return undefined;
}

const SAMPLE: Record<Substitution, string> = {
  id: "x0c0s0b0n0",
  nid: "1",
  role: "Compute",
  mac: "aa:bb:cc:dd:ee:ff",
};

/** What is wrong with `s` as a kernel or initrd URI, or undefined when it is fine. */
export function checkUri(s: string): string | undefined {
  if (CONTROL.test(s)) return "must not contain control characters (newlines, tabs)";
  if (/\s/.test(s)) return "must not contain whitespace";
  if (/["\\]/.test(s)) return 'must not contain " or \\';
  const braces = checkBraces(s);
  if (braces) return braces;
  const concrete = s.replace(PLACEHOLDER, (_, k: Substitution) => SAMPLE[k]).replace(/\$\{[^}]*\}/g, "x");
  let url: URL;
  try {
    url = new URL(concrete);
  } catch {
    return "must be an absolute URI such as http://images.example/vmlinuz";
  }
  if (!(URI_SCHEMES as readonly string[]).includes(url.protocol))
    return `must use one of the schemes ${URI_SCHEMES.map((p) => p.slice(0, -1)).join(", ")}`;
  if (!url.hostname) return "must name a host";
  return undefined;
}

/** What is wrong with `s` as a kernel command line, or undefined when it is fine. */
export function checkCmdline(s: string): string | undefined {
  if (CONTROL.test(s)) return "must not contain control characters (newlines, tabs)";
  for (const word of s.split(" ")) {
    if (word === "||" || word === "&&" || word === ";")
      return `must not contain ${word} as a word: iPXE would read it as the end of the command`;
    if (word.startsWith("#"))
      return "must not contain a word starting with #: iPXE would read it as a comment";
  }
  if ((s.match(/"/g)?.length ?? 0) % 2 !== 0)
    return 'has an unbalanced " (the kernel would misread the rest)';
  return checkBraces(s);
}

/**
 * Replaces the placeholders of `s` by `facts`. A placeholder whose fact is
 * undefined (a component without a nid or role) makes the result
 * `{ missing }` rather than a command line with a hole in it.
 */
export function substitute(
  s: string,
  facts: Record<Substitution, string | undefined>,
): { text: string } | { missing: Substitution } {
  // Most fields have no placeholder at all: no regular expression for them.
  if (!s.includes("{")) return { text: s };
  let missing: Substitution | undefined;
  const text = s.replace(PLACEHOLDER, (whole, k: Substitution) => {
    const v = facts[k];
    if (v === undefined) missing ??= k;
    return v ?? whole;
  });
  return missing ? { missing } : { text };
}
