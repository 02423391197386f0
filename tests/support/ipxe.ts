/**
 * A checker for iPXE scripts that follows how iPXE itself reads them
 * (src/image/script.c, src/core/exec.c, src/core/getopt.c, src/core/settings.c):
 *
 * - the first line is `#!ipxe` (or `#!gpxe`) followed by whitespace;
 * - lines end at `\n` (a trailing `\r` is dropped; a trailing `\` joins the
 *   next line); `:name` at the start of a line is a label;
 * - a line is split on whitespace only (iPXE has no quoting); a word that is
 *   exactly `||`, `&&` or `;` ends a command, a word starting with `#` starts
 *   a comment that runs to the end of the line;
 * - options come before arguments (getopt stops at the first non-option,
 *   `--` ends them), long (`--name value`, `--name=value`) or short (`-n`);
 * - `${…}` is a setting reference, `[scope/]name[:type]`.
 *
 * On top of what iPXE would refuse at run time (unknown commands, options
 * and labels, wrong argument counts, non-numeric numbers), it refuses what
 * would run but is almost surely a mistake: an empty command (`a || || b`,
 * a trailing `||`), a `${` without its `}`, an unbalanced double quote on a
 * line (the kernel reads quotes in its command line), a URI that does not
 * parse as an absolute http(s)/tftp/ftp/nfs URL, duplicate labels, control
 * characters. With `requireFallbacks`, every command that can fail for
 * outside reasons (fetching, booting, chaining) must be followed by `||`.
 */
import { isSettingName } from "../../functions/boot/text";

export interface IpxeProblem {
  /** 1-based line number in the script. */
  line: number;
  message: string;
}

export interface CheckOptions {
  /** Require `|| …` after every kernel/initrd/module/imgfetch/chain/boot/imgexec command. */
  requireFallbacks?: boolean;
}

type ArgKind = "text" | "int";

interface CommandSpec {
  /** Long option name → short letter and whether it takes an argument. */
  options?: Record<string, { short?: string; arg?: ArgKind }>;
  min: number;
  max: number;
  /** How positional arguments are checked, by position (the last one repeats). */
  args?: ("uri" | "int" | "label" | "setting" | "text")[];
}

/** Options of the image commands that fetch or select (src/hci/commands/image_cmd.c). */
const FETCH_OPTIONS: CommandSpec["options"] = {
  name: { short: "n", arg: "text" },
  timeout: { short: "t", arg: "int" },
  quiet: { short: "q" },
  autofree: { short: "a" },
};
/** chain, imgexec and boot also take --replace. */
const EXEC_OPTIONS: CommandSpec["options"] = { ...FETCH_OPTIONS, replace: { short: "r" } };
const MANY = Number.POSITIVE_INFINITY;

/** The commands this checker knows, with iPXE's option and argument rules. */
export const COMMANDS: Record<string, CommandSpec> = {
  kernel: { options: FETCH_OPTIONS, min: 1, max: MANY, args: ["uri", "text"] },
  imgselect: { options: FETCH_OPTIONS, min: 1, max: MANY, args: ["uri", "text"] },
  imgfetch: { options: FETCH_OPTIONS, min: 1, max: MANY, args: ["uri", "text"] },
  module: { options: FETCH_OPTIONS, min: 1, max: MANY, args: ["uri", "text"] },
  initrd: { options: FETCH_OPTIONS, min: 1, max: MANY, args: ["uri", "text"] },
  chain: { options: EXEC_OPTIONS, min: 1, max: MANY, args: ["uri", "text"] },
  imgexec: { options: EXEC_OPTIONS, min: 0, max: MANY, args: ["text"] },
  boot: { options: EXEC_OPTIONS, min: 0, max: MANY, args: ["text"] },
  imgload: { options: FETCH_OPTIONS, min: 1, max: MANY, args: ["text"] },
  imgargs: { min: 1, max: MANY, args: ["text"] },
  imgfree: { min: 0, max: MANY, args: ["text"] },
  imgstat: { min: 0, max: MANY, args: ["text"] },
  sleep: { min: 1, max: 1, args: ["int"] },
  echo: { options: { n: { short: "n" } }, min: 0, max: MANY, args: ["text"] },
  goto: { min: 1, max: 1, args: ["label"] },
  set: { min: 1, max: MANY, args: ["setting", "text"] },
  clear: { min: 1, max: 1, args: ["setting"] },
  inc: { min: 1, max: 2, args: ["setting", "int"] },
  isset: { min: 1, max: 1, args: ["text"] },
  iseq: { min: 2, max: 2, args: ["text"] },
  exit: { min: 0, max: 1, args: ["int"] },
  reboot: { options: { warm: { short: "w" }, setup: { short: "s" } }, min: 0, max: 0 },
  poweroff: { min: 0, max: 0 },
  shell: { min: 0, max: 0 },
  prompt: {
    options: { key: { short: "k", arg: "text" }, timeout: { short: "t", arg: "int" } },
    min: 0,
    max: MANY,
  },
  dhcp: { min: 0, max: MANY, args: ["text"] },
  ifopen: { min: 0, max: MANY, args: ["text"] },
  ifclose: { min: 0, max: MANY, args: ["text"] },
  ifstat: { min: 0, max: MANY, args: ["text"] },
  ifconf: { options: { configurator: { short: "c", arg: "text" } }, min: 0, max: MANY, args: ["text"] },
  ntp: { min: 1, max: 1, args: ["text"] },
};

/** Commands that fail for reasons outside the script: a network fetch, a boot, a chain. */
const FALLIBLE = new Set(["kernel", "initrd", "module", "imgfetch", "imgselect", "chain", "boot", "imgexec"]);

const URI_SCHEMES = new Set(["http:", "https:", "tftp:", "ftp:", "nfs:"]);
const TERMINATORS = new Set(["||", "&&", ";"]);
// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this finds.
const CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]/;

interface Line {
  /** Line number where the (possibly continued) line starts. */
  no: number;
  label: string | undefined;
  command: string;
}

/** The script's logical lines, as script.c forms them. */
function linesOf(script: string): Line[] {
  const raw = script.split("\n");
  if (raw.at(-1) === "") raw.pop();
  const out: Line[] = [];
  let acc = "";
  let start = 0;
  raw.forEach((text, i) => {
    let t = text.endsWith("\r") ? text.slice(0, -1) : text;
    if (acc === "") start = i + 1;
    if (t.endsWith("\\")) {
      acc += t.slice(0, -1);
      return;
    }
    t = acc + t;
    acc = "";
    const trimmed = t.replace(/^\s+/, "");
    if (trimmed.startsWith(":")) {
      const m = /^:(\S*)\s*(.*)$/.exec(trimmed)!;
      out.push({ no: start, label: m[1], command: m[2]! });
    } else out.push({ no: start, label: undefined, command: t });
  });
  if (acc !== "") out.push({ no: start, label: undefined, command: acc });
  return out;
}

/** `${…}` references in a word: problems, if any. */
function checkReferences(word: string): string | undefined {
  for (let i = word.indexOf("${"); i >= 0; i = word.indexOf("${", i + 2)) {
    const end = word.indexOf("}", i + 2);
    if (end < 0) return `\`${word}\` has a \${ without its closing }`;
    const name = word.slice(i + 2, end);
    if (name.includes("${") || !isSettingName(name))
      return `\`\${${name}}\` is not a setting reference ([scope/]name[:type])`;
  }
  return undefined;
}

/** Whether a word parses as an absolute URI iPXE can fetch (settings replaced by a placeholder). */
function checkUri(word: string): string | undefined {
  // A URI held in a setting (`${base}/vmlinuz`) is only known on the node.
  if (word.startsWith("${")) return undefined;
  const concrete = word.replace(/\$\{[^}]*\}/g, "x");
  let url: URL;
  try {
    url = new URL(concrete);
  } catch {
    return `\`${word}\` is not an absolute URI`;
  }
  if (!URI_SCHEMES.has(url.protocol))
    return `\`${word}\` uses ${url.protocol}, not http(s), tftp, ftp or nfs`;
  if (!url.hostname) return `\`${word}\` names no host`;
  return undefined;
}

/** Splits options from arguments as iPXE's getopt does; problems go to `report`. */
function parseOptions(
  name: string,
  words: string[],
  spec: CommandSpec,
  report: (m: string) => void,
): string[] {
  const opts = spec.options ?? {};
  const byShort = new Map(Object.entries(opts).map(([long, o]) => [o.short, { long, ...o }]));
  let i = 0;
  const takeArg = (opt: string, kind: ArgKind | undefined, inline: string | undefined) => {
    if (!kind) {
      if (inline !== undefined) report(`${name}: option ${opt} takes no value`);
      return;
    }
    const value = inline ?? words[++i];
    if (value === undefined) report(`${name}: option ${opt} needs a value`);
    else if (kind === "int" && !/^\d+$/.test(value))
      report(`${name}: option ${opt} needs a number, not \`${value}\``);
  };
  for (; i < words.length; i++) {
    const w = words[i]!;
    if (!w.startsWith("-") || w === "-") break;
    if (w === "--") {
      i++;
      break;
    }
    if (w.startsWith("--")) {
      const [long, inline] = w.slice(2).split(/=(.*)/s, 2) as [string, string | undefined];
      const o = long ? opts[long] : undefined;
      if (!o) report(`${name}: unknown option --${long}`);
      else takeArg(`--${long}`, o.arg, inline);
      continue;
    }
    for (let j = 1; j < w.length; j++) {
      const o = byShort.get(w[j]!);
      if (!o) {
        report(`${name}: unknown option -${w[j]}`);
        break;
      }
      if (o.arg) {
        takeArg(`-${w[j]}`, o.arg, j + 1 < w.length ? w.slice(j + 1) : undefined);
        break;
      }
    }
  }
  return words.slice(i);
}

/** Every problem found in `script`; an empty list means it passed. */
export function checkIpxe(script: string, options: CheckOptions = {}): IpxeProblem[] {
  const problems: IpxeProblem[] = [];
  if (!/^#![ig]pxe\s/.test(script)) problems.push({ line: 1, message: "the first line must be #!ipxe" });
  const lines = linesOf(script);
  const labels = new Map<string, number>();
  for (const l of lines) {
    if (l.label === undefined) continue;
    if (l.label === "") problems.push({ line: l.no, message: "a label needs a name after :" });
    else if (labels.has(l.label))
      problems.push({ line: l.no, message: `label :${l.label} is also on line ${labels.get(l.label)}` });
    else labels.set(l.label, l.no);
  }
  const gotos: { line: number; label: string }[] = [];

  lines.forEach((l, index) => {
    if (index === 0 && l.label === undefined && /^#![ig]pxe/.test(l.command)) return;
    const report = (message: string) => problems.push({ line: l.no, message });
    if (CONTROL.test(l.command)) report("control characters in the line");
    if ((l.command.match(/"/g)?.length ?? 0) % 2 !== 0) report('unbalanced " in the line');
    let words = l.command.split(/[ \t\n\v\f\r]+/).filter(Boolean);
    const comment = words.findIndex((w) => w.startsWith("#"));
    if (comment >= 0) words = words.slice(0, comment);
    if (words.length === 0) return;

    // Split into commands at || && ;
    const commands: { words: string[]; ends: string | undefined }[] = [];
    let current: string[] = [];
    for (const w of words) {
      if (TERMINATORS.has(w)) {
        commands.push({ words: current, ends: w });
        current = [];
      } else current.push(w);
    }
    commands.push({ words: current, ends: undefined });

    commands.forEach((cmd, ci) => {
      const [name, ...rest] = cmd.words;
      if (!name) {
        report(
          ci === commands.length - 1
            ? `nothing after ${commands[ci - 1]!.ends}`
            : `empty command before ${cmd.ends}`,
        );
        return;
      }
      for (const w of cmd.words) {
        const bad = checkReferences(w);
        if (bad) report(bad);
      }
      const spec = COMMANDS[name];
      if (!spec) {
        report(`unknown command \`${name}\``);
        return;
      }
      const args = parseOptions(name, rest, spec, report);
      if (args.length < spec.min || args.length > spec.max)
        report(
          `${name} takes ${spec.min === spec.max ? spec.min : `${spec.min} to ${spec.max === MANY ? "any number of" : spec.max}`} argument(s), got ${args.length}`,
        );
      args.forEach((a, ai) => {
        const kind = spec.args?.[Math.min(ai, spec.args.length - 1)] ?? "text";
        if (kind === "uri") {
          const bad = checkUri(a);
          if (bad) report(`${name}: ${bad}`);
        } else if (kind === "int" && !/^\d+$/.test(a)) report(`${name}: \`${a}\` is not a whole number`);
        else if (kind === "label") gotos.push({ line: l.no, label: a });
        else if (kind === "setting" && !isSettingName(a)) report(`${name}: \`${a}\` is not a setting name`);
      });
      if (options.requireFallbacks && FALLIBLE.has(name) && cmd.ends !== "||")
        report(`${name} can fail and is not followed by || (a failure would end the script)`);
    });
  });

  for (const g of gotos)
    if (!labels.has(g.label))
      problems.push({ line: g.line, message: `goto ${g.label}: no label :${g.label}` });
  return problems.sort((a, b) => a.line - b.line);
}

/** Throws, listing every problem with its line, unless `script` passes `checkIpxe`. */
export function assertValidIpxe(script: string, options: CheckOptions = {}): void {
  const problems = checkIpxe(script, options);
  if (problems.length === 0) return;
  const lines = script.split("\n");
  const detail = problems
    .map((p) => `  line ${p.line}: ${p.message}\n    | ${lines[p.line - 1] ?? ""}`)
    .join("\n");
  throw new Error(`invalid iPXE script:\n${detail}`);
}
