/**
 * iPXE boot scripts, as pure functions of a decision (./resolve.ts) and the
 * request's context. Golden tests hold their exact text
 * (tests/golden/ipxe/); docs/boot.md explains every line.
 *
 * Every step that can fail (kernel, initrd, boot) jumps to a retry block
 * that frees what was loaded, sleeps and chains back to the same URL with
 * `retry=<n+1>`. After MAX_RETRIES retries, or when the boot server cannot
 * be reached to chain back, the script says so on the console, sleeps and
 * reboots the node, which starts over from PXE. A node that cannot boot yet
 * (unknown MAC, no params, disabled) gets the same retry loop around an
 * explanation instead of a kernel.
 */
import { type ArtifactRef, artifactPath } from "../artifacts/schemas";
import { type BootDecision, type Lookup, lookupQuery } from "./resolve";

/** Retries after the first attempt before the script gives up and reboots. */
export const MAX_RETRIES = 10;
/** Seconds the console shows why before the final reboot. */
export const GIVE_UP_SECONDS = 60;
/** The path nodes fetch their script from (relative to the base URL). */
export const BOOTSCRIPT_PATH = "/boot/v1/bootscript";

export interface ScriptContext {
  lookup: Lookup;
  /** The URL nodes reach this service at, without a trailing slash. */
  base: string;
  /** Which retry this script serves: 0 for the first fetch, at most MAX_RETRIES. */
  retry: number;
  /**
   * Where nodes fetch an artifact; default: its origin URL, or this server's
   * own content route for an upload (an edge names its cached copy once it
   * has one).
   */
  artifactUrl?: (ref: ArtifactRef, base: string) => string;
}

/** The URL of the kernel or initrd: the params' URI, or where the artifact is served. */
function imageUrl(ctx: ScriptContext, uri: string, ref: ArtifactRef | null): string {
  if (!ref) return uri;
  if (ctx.artifactUrl) return ctx.artifactUrl(ref, ctx.base);
  // The control plane: straight to where a registered artifact lives, else its own upload.
  return ref.url ?? `${ctx.base}${artifactPath(ref)}`;
}

type Boot = Extract<BootDecision, { kind: "boot" }>;

/** The URL a script chains back to: the same lookup, with `retry` when above 0. */
export function bootScriptUrl(base: string, lookup: Lookup, retry = 0): string {
  return `${base}${BOOTSCRIPT_PATH}?${lookupQuery(lookup)}${retry > 0 ? `&retry=${retry}` : ""}`;
}

/** The NoCloud seed URL of a component (cloud-init appends user-data, meta-data, vendor-data). */
export const cloudInitUrl = (base: string, id: string) => `${base}/cloud-init/${id}/`;

/** 32-bit FNV-1a, for a jitter that differs between nodes but not between runs. */
function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193) >>> 0;
  return h;
}

const lookupKey = (l: Lookup) => (l.by === "mac" ? l.mac : l.by === "name" ? l.id : String(l.nid));

/**
 * Seconds to sleep before retry `retry + 1`: 5, 10, 20, 40, then 60, plus up
 * to half as much again, spread by a hash of the node's MAC (or id, or nid)
 * so that thousands of nodes failing together do not come back together.
 */
export function retryDelay(retry: number, key: string): number {
  const base = Math.min(5 * 2 ** retry, 60);
  return base + (fnv1a(`${key}/${retry}`) % (Math.floor(base / 2) + 1));
}

/**
 * An `echo` line that iPXE prints as written: no word it would read as a
 * command separator or comment, no `${` it would expand, balanced quotes.
 */
export function echo(text: string): string {
  if (plainWords(text)) return `echo ${text}`;
  const words = text
    .replaceAll("${", "$ {")
    .replaceAll('"', "'")
    .split(/\s+/)
    .filter(Boolean)
    .map((w) => (w === "||" || w === "&&" || w === ";" || w.startsWith("#") ? `'${w}'` : w));
  return `echo ${words.join(" ")}`;
}

/**
 * Whether `echo` would print `text` as it is: printable ASCII words
 * separated by single spaces, none of them special to iPXE. Nearly every
 * line is, and checking costs less than splitting it.
 */
function plainWords(text: string): boolean {
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x20) {
      if (i === 0 || i === n - 1 || text.charCodeAt(i - 1) === 0x20) return false;
    } else if (
      c < 0x21 ||
      c > 0x7e ||
      c === 0x22 || // "
      c === 0x26 || // &
      c === 0x3b || // ;
      c === 0x7c || // |
      (c === 0x23 && (i === 0 || text.charCodeAt(i - 1) === 0x20)) || // # starting a word
      (c === 0x24 && text.charCodeAt(i + 1) === 0x7b) // ${
    )
      return false;
  }
  return true;
}

/** Words that start with `key` (e.g. `ds=`) are the node's own setting; leave them alone. */
const hasKey = (words: string[], key: string) => words.some((w) => w.startsWith(key));

/**
 * The kernel's arguments: the params' command line with, where absent,
 * `initrd=initrd` (the EFI stub finds the initrd by that name), the node's
 * identity and its cloud-init seed. Identity goes before a lone `--` (what
 * follows it belongs to init).
 */
export function kernelArgs(d: Boot, ctx: ScriptContext): string[] {
  const words = d.cmdline.split(" ").filter(Boolean);
  const add: string[] = [];
  if (!hasKey(words, "chamicore.id=")) add.push(`chamicore.id=${d.node.id}`);
  if (d.node.nid !== null && !hasKey(words, "chamicore.nid=")) add.push(`chamicore.nid=${d.node.nid}`);
  if (!hasKey(words, "BOOTIF="))
    add.push(
      ctx.lookup.by === "mac"
        ? `BOOTIF=01-${ctx.lookup.mac.replaceAll(":", "-")}`
        : `BOOTIF=01-\${netX/mac:hexhyp}`,
    );
  if (!hasKey(words, "ds=")) add.push(`ds=nocloud-net;s=${cloudInitUrl(ctx.base, d.node.id)}`);
  const end = words.indexOf("--");
  const args = end < 0 ? [...words, ...add] : [...words.slice(0, end), ...add, ...words.slice(end)];
  return (d.initrdUri || d.initrd) && !hasKey(words, "initrd=") ? ["initrd=initrd", ...args] : args;
}

/**
 * What a script does when it cannot boot now. Before the last retry: free
 * what a failed attempt loaded (`loaded`), sleep and chain back with
 * `retry + 1` (rebooting if the server cannot be reached); at the last: say
 * so and reboot.
 */
function retryLines(ctx: ScriptContext, failed: string, loaded: boolean): string[] {
  const n = ctx.retry;
  if (n >= MAX_RETRIES)
    return [
      echo(
        `Chamicore: ${failed} after ${MAX_RETRIES} retries, rebooting in ${GIVE_UP_SECONDS} seconds to start over`,
      ),
      `sleep ${GIVE_UP_SECONDS}`,
      "reboot",
    ];
  const delay = retryDelay(n, lookupKey(ctx.lookup));
  const next = bootScriptUrl(ctx.base, ctx.lookup, n + 1);
  return [
    echo(`Chamicore: ${failed}, retry ${n + 1} of ${MAX_RETRIES} in ${delay} seconds`),
    // A kernel or initrd left from this attempt would shadow the next one's (iPXE finds images by name).
    ...(loaded ? ["imgfree"] : []),
    `sleep ${delay}`,
    `chain --replace --autofree ${next} || goto unreachable`,
    ":unreachable",
    echo(`Chamicore: cannot fetch ${next}, rebooting in ${GIVE_UP_SECONDS} seconds to start over`),
    `sleep ${GIVE_UP_SECONDS}`,
    "reboot",
  ];
}

const attempt = (ctx: ScriptContext) => `attempt ${ctx.retry + 1} of ${MAX_RETRIES + 1}`;

/** The script that boots a node with its resolved params. */
export function renderBootScript(ctx: ScriptContext, d: Boot): string {
  const onFail = ctx.retry >= MAX_RETRIES ? "give-up" : "retry";
  const lines = [
    "#!ipxe",
    `# Chamicore boot script for ${d.node.id}: boot parameters ${d.paramsId} (${d.target}), ${attempt(ctx)}`,
    echo(`Chamicore: booting ${d.node.id} with the boot parameters of ${d.target}`),
    `kernel --name kernel ${imageUrl(ctx, d.kernelUri, d.kernel)} ${kernelArgs(d, ctx).join(" ")} || goto ${onFail}`,
    ...(d.initrdUri || d.initrd
      ? [`initrd --name initrd ${imageUrl(ctx, d.initrdUri, d.initrd)} || goto ${onFail}`]
      : []),
    `boot || goto ${onFail}`,
    `:${onFail}`,
    ...retryLines(ctx, `booting ${d.node.id} failed`, true),
  ];
  return `${lines.join("\n")}\n`;
}

/** The script for a node that cannot boot yet: why, then retry (the reason may be gone by then). */
export function renderWaitScript(ctx: ScriptContext, reason: string): string {
  const lines = [
    "#!ipxe",
    `# Chamicore boot script: nothing to boot yet, ${attempt(ctx)}`,
    echo(`Chamicore: cannot boot yet: ${reason}`),
    ...retryLines(ctx, "still nothing to boot", false),
  ];
  return `${lines.join("\n")}\n`;
}
