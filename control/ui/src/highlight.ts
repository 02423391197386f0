/**
 * iPXE scripts as tokens for display: comments, labels, commands, options,
 * variables (`${…}`) and URLs, each a span with its class. Pure, and
 * rendered as text nodes (no HTML is ever built from a script), so a script
 * with markup in it shows that markup, never runs it.
 */

export type TokenKind = "comment" | "label" | "command" | "option" | "variable" | "url" | "text";
export interface Token {
  kind: TokenKind;
  text: string;
}

/** iPXE's commands (those a Chamicore script or a hand-written one uses). */
const COMMANDS = new Set([
  "#!ipxe",
  "boot",
  "chain",
  "dhcp",
  "echo",
  "exit",
  "goto",
  "ifopen",
  "imgfree",
  "initrd",
  "isset",
  "iseq",
  "kernel",
  "module",
  "prompt",
  "reboot",
  "sanboot",
  "set",
  "shell",
  "sleep",
  "imgfetch",
  "imgexec",
  "imgargs",
  "imgselect",
  "ntp",
]);

const WORD = /(\$\{[^}\s]*\}|https?:\/\/\S*[^\s,.;]|--?[A-Za-z][\w-]*|\s+|[^\s$]+|\$)/g;

function line(text: string): Token[] {
  const trimmed = text.trimStart();
  const indent = text.slice(0, text.length - trimmed.length);
  const out: Token[] = indent ? [{ kind: "text", text: indent }] : [];
  if (trimmed === "#!ipxe") return [...out, { kind: "command", text: trimmed }];
  if (trimmed.startsWith("#")) return [...out, { kind: "comment", text: trimmed }];
  if (trimmed.startsWith(":")) return [...out, { kind: "label", text: trimmed }];
  let first = true;
  for (const m of trimmed.matchAll(WORD)) {
    const w = m[0];
    let kind: TokenKind = "text";
    if (/^\s+$/.test(w)) kind = "text";
    else if (w.startsWith("${")) kind = "variable";
    else if (/^https?:\/\//.test(w)) kind = "url";
    else if (first && COMMANDS.has(w)) kind = "command";
    else if (/^--?[A-Za-z]/.test(w)) kind = "option";
    if (!/^\s+$/.test(w)) first = false;
    // After `||` or `&&` a new command starts.
    if (w === "||" || w === "&&") first = true;
    const last = out.at(-1);
    if (last && last.kind === kind && kind === "text") last.text += w;
    else out.push({ kind, text: w });
  }
  return out;
}

/** The tokens of `script`, line by line (newlines as text tokens). */
export function highlightIpxe(script: string): Token[] {
  const out: Token[] = [];
  script.split("\n").forEach((l, i) => {
    if (i > 0) out.push({ kind: "text", text: "\n" });
    out.push(...line(l));
  });
  return out;
}
