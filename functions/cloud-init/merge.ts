/**
 * What a node is served: its payloads merged, least specific first — the
 * role's payload, then one per group the node is in (by group name), then
 * the component's own — so the most specific wins. Pure functions: the same
 * node and payloads give the same bytes on every store and runtime.
 *
 * Rules (docs/cloud-init.md has them with an example):
 * - Maps merge key by key, recursively; on any other clash the later value
 *   wins (null too, which is how a specific payload blanks a key).
 * - Lists are concatenated; an item of the later list is left out when an
 *   equal item (deep equality) is already in the list it joins.
 * - user-data and vendor-data: two `#cloud-config` documents merge as maps;
 *   any other document (a script, MIME multipart, a jinja template…), or a
 *   `#cloud-config` landing on one, replaces what came before it whole.
 * - A document from a single payload is served exactly as stored; a merged
 *   one is written out again as `#cloud-config` + YAML 1.1.
 * - meta-data: `instance-id` (`iid-<component id>`) and `local-hostname`
 *   (the component id), then every payload's metaData merged over them, then
 *   the node's facts under `chamicore`; keys sorted at every level.
 */
import { CLOUD_CONFIG_HEADER, cloudConfigOf, kindOf, renderCloudConfig } from "./documents";
import type { DocumentName, Payload } from "./schemas";
import type { NodeFacts } from "./store";

/** What nothing configured serves: an empty mapping (an empty document fails `cloud-init schema`). */
export const EMPTY_CLOUD_CONFIG = `${CLOUD_CONFIG_HEADER}\n{}\n`;

/** meta-data key the node's facts are served under; payloads may not set it. */
export const FACTS_KEY = "chamicore";

export interface Served {
  body: string;
  contentType: string;
}

type Mapping = Record<string, unknown>;

const isMapping = (v: unknown): v is Mapping =>
  typeof v === "object" && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;

/** Sets an own property even for `__proto__` (a YAML or JSON key like any other). */
function setOwn(o: Mapping, k: string, v: unknown) {
  Object.defineProperty(o, k, { value: v, enumerable: true, writable: true, configurable: true });
}

/** A string equal for deep-equal values: maps compared without regard to key order. */
function identity(v: unknown): string {
  const canon = (x: unknown): unknown => {
    if (Array.isArray(x)) return { l: x.map(canon) };
    if (isMapping(x))
      return {
        m: Object.keys(x)
          .sort()
          .map((k) => [k, canon(x[k])]),
      };
    if (x instanceof Date) return { d: x.toISOString() };
    if (x instanceof Uint8Array) return { b: [...x] };
    if (x instanceof Set) return { s: [...x].map(canon) };
    if (x instanceof Map) return { p: [...x].map(([k, y]) => [canon(k), canon(y)]) };
    if (typeof x === "bigint") return { n: x.toString() };
    return x === undefined ? null : x;
  };
  return JSON.stringify(canon(v));
}

/** `over` merged into `base` by the rules above; neither is modified. */
export function mergeValues(base: unknown, over: unknown): unknown {
  if (isMapping(base) && isMapping(over)) {
    const out: Mapping = {};
    for (const [k, v] of Object.entries(base)) setOwn(out, k, v);
    for (const [k, v] of Object.entries(over))
      setOwn(out, k, Object.hasOwn(out, k) ? mergeValues(out[k], v) : v);
    return out;
  }
  if (Array.isArray(base) && Array.isArray(over)) {
    const present = new Set(base.map(identity));
    return [...base, ...over.filter((v) => !present.has(identity(v)))];
  }
  return over;
}

/** The payloads that apply to `node`, least specific first: role, groups by name, component. */
export function layersOf(node: NodeFacts, payloads: readonly Payload[]): Payload[] {
  const groups = new Set(node.groups);
  const role = payloads.filter((p) => p.role !== null && p.role === node.role);
  const byGroup = payloads
    .filter((p) => p.group !== null && groups.has(p.group))
    .sort((a, b) => (a.group! < b.group! ? -1 : a.group! > b.group! ? 1 : 0));
  const own = payloads.filter((p) => p.componentId === node.id);
  return [...role, ...byGroup, ...own];
}

/** Merged documents, by their sources: at most MEMO_ENTRIES of them, MEMO_CHARS characters of sources in all. */
const singles = new Map<string, Served>();
const joins = new Map<string, Served>();
const MEMO_ENTRIES = 512;
const MEMO_CHARS = 8 * 2 ** 20;
let memoChars = 0;

/**
 * user-data or vendor-data documents, least specific first, merged into one;
 * undefined when there are none. Remembered by its sources (below): the
 * answer depends on the texts alone, and in a storm every node of a role
 * asks for the same merge.
 */
export function mergeDocuments(texts: readonly string[]): Served | undefined {
  if (texts.length === 0) return undefined;
  // One source is keyed by its own text, which a store that keeps its payloads hands over as the
  // same string every time (its hash already known); several by an unambiguous length-prefixed join.
  const key = texts.length === 1 ? texts[0]! : texts.map((t) => `${t.length}:${t}`).join("");
  const memo = texts.length === 1 ? singles : joins;
  const known = memo.get(key);
  if (known !== undefined) return known;
  // Shared by every caller from now on, so nobody may change it.
  const served = Object.freeze(mergeNow(texts)!);
  memo.set(key, served);
  memoChars += key.length;
  // Over its bounds, the memo starts again rather than track each entry's use.
  if (singles.size + joins.size > MEMO_ENTRIES || memoChars > MEMO_CHARS) {
    singles.clear();
    joins.clear();
    memoChars = 0;
  }
  return served;
}

function mergeNow(texts: readonly string[]): Served | undefined {
  let acc: { config: Mapping; sources: number; text: string } | { opaque: string } | undefined;
  for (const text of texts) {
    if (kindOf(text) !== "cloud-config") acc = { opaque: text };
    else if (acc && "config" in acc)
      acc = {
        config: mergeValues(acc.config, cloudConfigOf(text)) as Mapping,
        sources: acc.sources + 1,
        text,
      };
    else acc = { config: cloudConfigOf(text), sources: 1, text };
  }
  if (!acc) return undefined;
  if ("opaque" in acc) return { body: acc.opaque, contentType: "text/plain; charset=utf-8" };
  const verbatim = acc.sources === 1 && Object.keys(acc.config).length > 0;
  return {
    body: verbatim ? acc.text : renderCloudConfig(acc.config),
    contentType: "text/cloud-config; charset=utf-8",
  };
}

/** The node's facts as served under `chamicore` in meta-data. */
export function factsOf(node: NodeFacts) {
  const interfaces = [...node.interfaces].sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return {
    id: node.id,
    nid: node.nid,
    role: node.role,
    groups: [...node.groups].sort((a, b) => (a < b ? -1 : a > b ? 1 : 0)),
    addresses: interfaces.flatMap((i) =>
      i.ipAddresses.map((a) => ({ ipAddress: a.ipAddress, network: a.network, macAddress: i.macAddress })),
    ),
    macAddresses: interfaces.map((i) => i.macAddress),
  };
}

/** Keys sorted at every level: the same data gives the same bytes whatever order a store keeps. */
function sortKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortKeys);
  if (!isMapping(v)) return v;
  const out: Mapping = {};
  for (const k of Object.keys(v).sort()) setOwn(out, k, sortKeys(v[k]));
  return out;
}

export function mergeMetaData(node: NodeFacts, layers: readonly Payload[]): Mapping {
  let md: unknown = { "instance-id": `iid-${node.id}`, "local-hostname": node.id };
  for (const p of layers) if (p.metaData) md = mergeValues(md, p.metaData);
  const out = md as Mapping;
  setOwn(out, FACTS_KEY, factsOf(node));
  return sortKeys(out) as Mapping;
}

/** The document `name` for `node`, from the payloads that apply to it (`layersOf`). */
export function renderDocument(name: DocumentName, node: NodeFacts, layers: readonly Payload[]): Served {
  if (name === "meta-data")
    return {
      body: `${JSON.stringify(mergeMetaData(node, layers), null, 2)}\n`,
      contentType: "application/json",
    };
  const field = name === "user-data" ? "userData" : "vendorData";
  const texts = layers.map((p) => p[field]).filter((t): t is string => t !== null);
  return (
    mergeDocuments(texts) ?? { body: EMPTY_CLOUD_CONFIG, contentType: "text/cloud-config; charset=utf-8" }
  );
}

/** The payloads' field that feeds document `name`. */
export const fieldOf = (name: DocumentName) =>
  name === "user-data" ? "userData" : name === "meta-data" ? "metaData" : "vendorData";
