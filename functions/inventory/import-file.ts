/**
 * Inventory import files, parsed (`chamicore import`, and the edge's file
 * discovery driver): files in, components out, each with
 * the file line it came from, so that every problem (local or the API's)
 * names a line.
 *
 * Accepted:
 *   - JSON or YAML `{components: [...]}` (the body of POST /hsm/v2/import)
 *     or a bare list of components;
 *   - OpenCHAMI's nodes.yaml: `nodes: [{name, xname, nid, role, group(s),
 *     bmc_mac, bmc_ip, interfaces: [{mac_addr, ip_addrs: [{name, ip_addr}]}]}]`;
 *   - CSV with a header (see CSV_COLUMNS); several rows with the same id add
 *     interfaces (and groups) to one component.
 * Spellings are taken liberally (xname/name → id, mac_addr → macAddress,
 * ip_addrs → ipAddresses, role/type in any case); what remains must be
 * what the API takes, checked with the API's own schema before anything
 * is sent.
 */
import { isMap, isSeq, LineCounter, parseDocument, type Node as YamlNode } from "yaml";
import { COMPONENT_TYPES, ROLES, SUB_ROLES } from "../../shared/enums";
import { fieldPath, valueAt } from "../../shared/http/errors";
import { ID_RULE, isValidId, parseXname } from "../../shared/ids";
import { MAC_RULE, normalizeMac } from "../../shared/mac";
import type { FieldError } from "../../shared/problem";
import { ComponentCreateSchema } from "./schemas";

export type ImportFormat = "csv" | "json" | "yaml";

/** A file that cannot be imported at all (no header, not JSON or YAML, another shape). */
export class ImportFileError extends Error {
  override name = "ImportFileError";
}

/** One component to import, and where it came from. */
export interface Entry {
  /** File line of the item (CSV: its first row). */
  line: number;
  id: string;
  /** The POST /hsm/v2/import item. */
  component: Record<string, unknown> & { id: string };
  /** Groups to add it to once it is in. */
  groups: string[];
  /** File line of each interface, when known. */
  ifaceLines: number[];
}

/** A problem with one row or item. */
export interface RowError {
  line: number;
  id?: string;
  /** The field (`role`, `interfaces[0].macAddress`), if one. */
  field?: string;
  message: string;
}

export interface Parsed {
  /** Items (or CSV rows) read. */
  items: number;
  entries: Entry[];
  /** Items that are not valid, each with its reasons. */
  invalid: RowError[];
  /** Lines of invalid items (one per item, whatever the number of reasons). */
  invalidLines: number[];
}

// ---------- formats ----------

/** The format from --format, else the file name, else the content. */
export function formatOf(file: string, text: string, given?: ImportFormat): ImportFormat {
  if (given) return given;
  const ext = /\.([a-z]+)$/i.exec(file)?.[1]?.toLowerCase();
  if (ext === "csv") return "csv";
  if (ext === "json") return "json";
  if (ext === "yaml" || ext === "yml") return "yaml";
  const first = text.trimStart()[0];
  if (first === "{" || first === "[") return "json";
  const head = text.split("\n", 1)[0] ?? "";
  return head.includes(",") && !head.includes(":") ? "csv" : "yaml";
}

/** Parses `text` into entries (valid) and row errors (invalid); throws ImportFileError for a file it cannot use. */
export function parseImport(text: string, format: ImportFormat, name = "the file"): Parsed {
  const raws = format === "csv" ? csvItems(text, name) : documentItems(text, name, format);
  return normalizeAll(raws);
}

// ---------- CSV ----------

/** A CSV record and the line it starts on. */
export interface CsvRecord {
  line: number;
  fields: string[];
}

/**
 * RFC 4180 CSV: fields separated by commas, quoted with `"` (`""` inside
 * quotes is one quote; quoted fields may span lines), CRLF or LF. Blank
 * lines and lines starting with `#` are skipped.
 */
export function parseCsv(text: string): CsvRecord[] {
  const out: CsvRecord[] = [];
  let line = 1;
  let i = 0;
  const n = text.length;
  if (text.charCodeAt(0) === 0xfeff) i = 1;
  while (i < n) {
    const start = line;
    // Skip blank and comment lines.
    if (text[i] === "\n" || text[i] === "\r") {
      if (text[i] === "\r" && text[i + 1] === "\n") i++;
      i++;
      line++;
      continue;
    }
    if (text[i] === "#") {
      while (i < n && text[i] !== "\n") i++;
      continue;
    }
    const fields: string[] = [];
    let field = "";
    let quoted = false;
    for (;;) {
      if (i >= n) {
        if (quoted) throw new ImportFileError(`line ${start}: a quoted field is not closed`);
        fields.push(field);
        break;
      }
      const c = text[i]!;
      if (quoted) {
        if (c === '"') {
          if (text[i + 1] === '"') {
            field += '"';
            i += 2;
          } else {
            quoted = false;
            i++;
          }
        } else {
          if (c === "\n") line++;
          field += c;
          i++;
        }
      } else if (c === '"' && field.trim() === "") {
        quoted = true;
        field = "";
        i++;
      } else if (c === ",") {
        fields.push(field);
        field = "";
        i++;
      } else if (c === "\n" || c === "\r") {
        fields.push(field);
        if (c === "\r" && text[i + 1] === "\n") i++;
        i++;
        line++;
        break;
      } else {
        field += c;
        i++;
      }
    }
    out.push({ line: start, fields: fields.map((f) => f.trim()) });
  }
  return out;
}

/** CSV columns (header names are matched ignoring case, `_`, `-` and spaces) and their aliases. */
export const CSV_COLUMNS: Record<string, string[]> = {
  id: ["id", "xname", "name"],
  type: ["type"],
  role: ["role"],
  subRole: ["subrole"],
  nid: ["nid"],
  state: ["state"],
  flag: ["flag"],
  arch: ["arch"],
  rack: ["rack"],
  enabled: ["enabled"],
  mac: ["mac", "macaddress", "macaddr"],
  ip: ["ip", "ips", "ipaddress", "ipaddr", "ipaddresses"],
  network: ["network"],
  group: ["group", "groups"],
  bmc_mac: ["bmcmac"],
  bmc_ip: ["bmcip"],
};

const squash = (h: string) => h.toLowerCase().replace(/[\s_-]/g, "");

/** Splits `a;b c` (and commas, inside a quoted field) into its parts. */
const parts = (v: string) =>
  v
    .split(/[;,\s]+/)
    .map((s) => s.trim())
    .filter(Boolean);

interface RawItem {
  line: number;
  raw: unknown;
  /** Line of each interface, when known. */
  ifaceLines?: number[];
  /** Problems found while reading it (CSV rows of one id that disagree). */
  errors?: RowError[];
}

function csvItems(text: string, name: string): RawItem[] {
  const records = parseCsv(text);
  const header = records.shift();
  if (!header) throw new ImportFileError(`${name} is empty: expected a CSV header line and rows`);
  const columns = header.fields.map((h) => {
    const key = Object.entries(CSV_COLUMNS).find(([, names]) => names.includes(squash(h)))?.[0];
    if (!key)
      throw new ImportFileError(
        `${name} line ${header.line}: unknown column '${h}' (known: ${Object.keys(CSV_COLUMNS).join(", ")})`,
      );
    return key;
  });
  if (!columns.includes("id"))
    throw new ImportFileError(`${name} line ${header.line}: the header needs an id (or xname, name) column`);
  const byId = new Map<string, RawItem & { raw: Record<string, unknown> }>();
  const items: RawItem[] = [];
  for (const r of records) {
    const row: Record<string, string> = {};
    columns.forEach((k, j) => {
      const v = r.fields[j];
      if (v !== undefined && v !== "") row[k] = v;
    });
    if (r.fields.length > columns.length) {
      items.push({
        line: r.line,
        raw: row,
        errors: [
          {
            line: r.line,
            ...(row.id ? { id: row.id } : {}),
            message: `${r.fields.length} fields for ${columns.length} columns (quote a value that holds a comma)`,
          },
        ],
      });
      continue;
    }
    const iface =
      row.mac !== undefined || row.ip !== undefined
        ? {
            ...(row.mac !== undefined ? { mac_addr: row.mac } : {}),
            ...(row.ip !== undefined
              ? {
                  ip_addrs: parts(row.ip).map((ip) => ({
                    ip_addr: ip,
                    ...(row.network ? { name: row.network } : {}),
                  })),
                }
              : {}),
          }
        : undefined;
    const fields = Object.fromEntries(
      Object.entries(row).filter(([k]) => !["mac", "ip", "network", "group"].includes(k)),
    );
    const groups = row.group ? parts(row.group) : [];
    const id = row.id;
    const seen = id !== undefined ? byId.get(id) : undefined;
    if (!seen) {
      const item = {
        line: r.line,
        raw: { ...fields, ...(groups.length ? { groups } : {}), ...(iface ? { interfaces: [iface] } : {}) },
        ifaceLines: iface ? [r.line] : [],
        errors: [] as RowError[],
      };
      if (id !== undefined) byId.set(id, item);
      items.push(item);
      continue;
    }
    // Another row of the same component: its interface and groups join; its fields must agree.
    for (const [k, v] of Object.entries(fields))
      if (seen.raw[k] === undefined) seen.raw[k] = v;
      else if (String(seen.raw[k]).toLowerCase() !== v.toLowerCase())
        seen.errors!.push({
          line: r.line,
          id: id!,
          field: k,
          message: `'${v}' differs from '${seen.raw[k]}' on line ${seen.line} (rows of one id must agree)`,
        });
    if (iface) {
      seen.raw.interfaces = [...((seen.raw.interfaces as unknown[]) ?? []), iface];
      seen.ifaceLines!.push(r.line);
    }
    if (groups.length) seen.raw.groups = [...new Set([...((seen.raw.groups as string[]) ?? []), ...groups])];
  }
  return items;
}

// ---------- JSON and YAML ----------

const lineOf = (lc: LineCounter, node: unknown) => {
  const range = (node as YamlNode | undefined)?.range;
  return range ? lc.linePos(range[0]).line : 0;
};

const SHAPE_ERROR =
  "expected {components: [...]} (the API's shape), {nodes: [...]} (OpenCHAMI nodes.yaml) or a list of components";

/** The list of items in a parsed document, and its key (`components`, `nodes`) when not the root. */
function itemsOf(doc: unknown): { key?: string; items: unknown[] } | undefined {
  if (Array.isArray(doc)) return { items: doc };
  if (typeof doc !== "object" || doc === null) return undefined;
  const key = ["components", "nodes"].find((k) => k in doc);
  const items = key ? (doc as Record<string, unknown>)[key] : undefined;
  return key && Array.isArray(items) ? { key, items } : undefined;
}

/**
 * Lines of the values of a JSON text whose path `want` picks: one pass
 * over the text, tracking strings, nesting and newlines (JSON.parse itself
 * gives no positions; the YAML parser does, 100 times slower).
 */
export function jsonLines(
  text: string,
  want: (path: readonly (string | number)[]) => boolean,
): Map<string, number> {
  const out = new Map<string, number>();
  const stack: { arr: boolean; index: number; key: string; awaitingKey: boolean }[] = [];
  let line = 1;
  let i = 0;
  const n = text.length;
  const value = () => {
    const path = stack.map((f) => (f.arr ? f.index : f.key));
    if (want(path)) out.set(path.join("/"), line);
  };
  while (i < n) {
    const c = text[i]!;
    if (c === "\n") {
      line++;
      i++;
    } else if (c === " " || c === "\t" || c === "\r" || c === ":") i++;
    else if (c === '"') {
      let j = i + 1;
      while (j < n && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
      const top = stack.at(-1);
      if (top && !top.arr && top.awaitingKey) {
        top.key = JSON.parse(text.slice(i, j + 1)) as string;
        top.awaitingKey = false;
      } else value();
      i = j + 1;
    } else if (c === "{" || c === "[") {
      value();
      stack.push({ arr: c === "[", index: 0, key: "", awaitingKey: c === "{" });
      i++;
    } else if (c === "}" || c === "]") {
      stack.pop();
      i++;
    } else if (c === ",") {
      const top = stack.at(-1);
      if (top?.arr) top.index++;
      else if (top) top.awaitingKey = true;
      i++;
    } else {
      value();
      while (i < n && !/[\s,\]}]/.test(text[i]!)) i++;
    }
  }
  return out;
}

/** JSON through JSON.parse, with the lines of the items and their interfaces; undefined if it is not JSON. */
function jsonItems(text: string, name: string): RawItem[] | undefined {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return undefined;
  }
  const found = itemsOf(doc);
  if (!found) throw new ImportFileError(`${name}: ${SHAPE_ERROR}`);
  const base = found.key === undefined ? 0 : 1;
  const lines = jsonLines(
    text,
    (p) =>
      (p.length === base + 1 || (p.length === base + 3 && p[base + 1] === "interfaces")) &&
      (base === 0 || p[0] === found.key),
  );
  const prefix = found.key === undefined ? "" : `${found.key}/`;
  return found.items.map((raw, i) => {
    const ifaces = (raw as { interfaces?: unknown } | null)?.interfaces;
    return {
      line: lines.get(`${prefix}${i}`) ?? 0,
      raw,
      ifaceLines: Array.isArray(ifaces)
        ? ifaces.map((_, j) => lines.get(`${prefix}${i}/interfaces/${j}`) ?? 0)
        : [],
    };
  });
}

function documentItems(text: string, name: string, format: ImportFormat): RawItem[] {
  const fast = format === "json" ? jsonItems(text, name) : undefined;
  if (fast) return fast;
  // YAML, or JSON that JSON.parse refuses (the YAML parser says where).
  const lc = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lc, uniqueKeys: false });
  if (doc.errors.length) {
    const e = doc.errors[0]!;
    throw new ImportFileError(
      `${name} line ${e.linePos?.[0]?.line ?? "?"}: not valid JSON or YAML: ${e.message.split("\n")[0]}`,
    );
  }
  let seq: unknown = doc.contents;
  let values: unknown = doc.toJS();
  if (isMap(seq)) {
    const key = ["components", "nodes"].find((k) => doc.has(k));
    seq = key ? doc.get(key, true) : undefined;
    values = key ? (values as Record<string, unknown>)[key] : undefined;
  }
  if (!isSeq(seq)) throw new ImportFileError(`${name}: ${SHAPE_ERROR}`);
  return seq.items.map((node, i) => {
    const ifaces = isMap(node) ? (node.get("interfaces", true) as unknown) : undefined;
    return {
      line: lineOf(lc, node),
      raw: (values as unknown[])[i],
      ifaceLines: isSeq(ifaces) ? ifaces.items.map((f) => lineOf(lc, f)) : [],
    };
  });
}

// ---------- normalising and checking ----------

/** `compute` → `Compute` when the list has it in another case. */
const caseOf = (list: readonly string[], v: unknown) =>
  typeof v === "string" ? (list.find((x) => x.toLowerCase() === v.toLowerCase()) ?? v) : v;

const wholeNumber = (v: unknown) => (typeof v === "string" && /^\d+$/.test(v.trim()) ? Number(v) : v);
const bool = (v: unknown) =>
  typeof v === "string" && /^(true|false|yes|no)$/i.test(v) ? /^(true|yes)$/i.test(v) : v;

const asList = (v: unknown): unknown[] =>
  v === undefined || v === null ? [] : Array.isArray(v) ? v : typeof v === "string" ? parts(v) : [v];

function ipAddressOf(a: unknown): unknown {
  if (typeof a === "string") return { ipAddress: a };
  if (typeof a !== "object" || a === null) return a;
  const { ip_addr, ip, ipAddress, name, network, ...rest } = a as Record<string, unknown>;
  const net = network ?? name;
  return { ipAddress: ipAddress ?? ip_addr ?? ip, ...(net !== undefined ? { network: net } : {}), ...rest };
}

function interfaceOf(f: unknown): unknown {
  if (typeof f !== "object" || f === null) return f;
  const { mac_addr, mac, macAddress, ip_addrs, ips, ip, ipAddresses, ...rest } = f as Record<string, unknown>;
  const addrs = ipAddresses ?? ip_addrs ?? ips ?? ip;
  return {
    macAddress: macAddress ?? mac_addr ?? mac,
    ...(addrs !== undefined ? { ipAddresses: asList(addrs).map(ipAddressOf) } : {}),
    ...rest,
  };
}

/** A zod issue in words: enum choices shortened, the field named apart. */
function issueMessage(
  issue: { code: string; message: string; values?: unknown[]; expected?: string },
  value: unknown,
): string {
  if (issue.code === "invalid_type" && value !== undefined)
    return `'${typeof value === "object" ? JSON.stringify(value) : String(value)}' is not ${issue.expected === "number" ? "a whole number" : `a${/^[aeiou]/.test(issue.expected ?? "") ? "n" : ""} ${issue.expected}`}`;
  if (issue.code === "invalid_value" && issue.values) {
    const vs = issue.values.map(String);
    return vs.length <= 10
      ? `'${String(value)}' is not one of ${vs.join(", ")}`
      : `'${String(value)}' is not a known value (e.g. ${vs.filter((v) => /Node|BMC|Switch/.test(v)).join(", ")})`;
  }
  return issue.message;
}

/** The line of a field: its interface's line when it is inside interfaces[k]. */
export function lineOfField(entry: Pick<Entry, "line" | "ifaceLines">, field: string | undefined): number {
  const k = field ? /^interfaces\[(\d+)\]/.exec(field)?.[1] : undefined;
  return (k !== undefined ? entry.ifaceLines[Number(k)] : undefined) || entry.line;
}

/**
 * One item to the component(s) it stands for: the component and, with
 * `bmc_mac`, its BMC (id: the node xname's BMC, else `<id>-bmc`), or the
 * reasons it is not valid.
 */
export function normalizeItem(item: RawItem): { entries: Entry[]; errors: RowError[] } {
  const errors: RowError[] = [...(item.errors ?? [])];
  const { line } = item;
  if (typeof item.raw !== "object" || item.raw === null || Array.isArray(item.raw))
    return { entries: [], errors: [{ line, message: "not a mapping (expected id: …, type: …)" }] };
  const {
    id: rawId,
    xname,
    name,
    group,
    groups: rawGroups,
    bmc_mac,
    bmc_ip,
    bmc_id,
    bmc_xname,
    interfaces,
    sub_role,
    ...rest
  } = item.raw as Record<string, unknown>;
  const idValue = rawId ?? xname ?? name;
  const id = typeof idValue === "number" ? String(idValue) : idValue;
  if (typeof id !== "string" || id === "")
    return {
      entries: [],
      errors: [...errors, { line, message: "no id (give id, xname or name)" }],
    };
  const ifaceLines = item.ifaceLines ?? [];
  const err = (field: string | undefined, message: string) =>
    errors.push({ line: lineOfField({ line, ifaceLines }, field), id, ...(field ? { field } : {}), message });

  const component: Record<string, unknown> & { id: string } = { ...rest, id };
  if (sub_role !== undefined && component.subRole === undefined) component.subRole = sub_role;
  if (component.type === undefined) {
    if (!parseXname(id)) component.type = "Node";
  } else component.type = caseOf(COMPONENT_TYPES, component.type);
  if (component.role !== undefined) component.role = caseOf(ROLES, component.role);
  if (component.subRole !== undefined) component.subRole = caseOf(SUB_ROLES, component.subRole);
  for (const k of ["nid", "unit", "slot", "subSlot"])
    if (component[k] !== undefined) component[k] = wholeNumber(component[k]);
  if (component.enabled !== undefined) component.enabled = bool(component.enabled);
  if (interfaces !== undefined)
    component.interfaces = Array.isArray(interfaces) ? interfaces.map(interfaceOf) : interfaces;

  const checked = ComponentCreateSchema.safeParse(component);
  if (!checked.success)
    for (const issue of checked.error.issues) {
      const field = fieldPath(issue.path);
      err(field || undefined, issueMessage(issue as never, valueAt(component, issue.path)));
    }
  // The API's parsing normalises MACs; send what it would have stored.
  if (checked.success && checked.data.interfaces)
    component.interfaces = (component.interfaces as Record<string, unknown>[]).map((f, k) => ({
      ...f,
      macAddress: checked.data.interfaces![k]!.macAddress,
    }));

  const groups = [...new Set([...asList(group), ...asList(rawGroups)].map(String))];
  for (const g of groups) if (!isValidId(g)) err("group", `'${g}' is not a valid group name: ${ID_RULE}`);

  const entries: Entry[] = [];
  if (bmc_mac !== undefined || bmc_ip !== undefined || bmc_id !== undefined || bmc_xname !== undefined) {
    const x = parseXname(id);
    const bmcId = String(bmc_id ?? bmc_xname ?? (x?.type === "Node" && x.parent ? x.parent : `${id}-bmc`));
    const mac = bmc_mac === undefined ? undefined : normalizeMac(String(bmc_mac));
    if (bmc_mac !== undefined && !mac) err("bmc_mac", `'${bmc_mac}' is not ${MAC_RULE}`);
    if (bmc_ip !== undefined && bmc_mac === undefined)
      err("bmc_ip", "needs bmc_mac (an interface needs a MAC)");
    if (!isValidId(bmcId)) err("bmc_id", `'${bmcId}' is not a valid id: ${ID_RULE}`);
    const bmc = {
      id: bmcId,
      ...(parseXname(bmcId) ? {} : { type: "NodeBMC" }),
      ...(mac
        ? {
            interfaces: [
              {
                macAddress: mac,
                ...(bmc_ip !== undefined ? { ipAddresses: asList(bmc_ip).map(ipAddressOf) } : {}),
              },
            ],
          }
        : {}),
    };
    const bmcChecked = ComponentCreateSchema.safeParse(bmc);
    if (!bmcChecked.success)
      for (const issue of bmcChecked.error.issues)
        err(`bmc.${fieldPath(issue.path)}`, issueMessage(issue as never, valueAt(bmc, issue.path)));
    entries.push({ line, id: bmcId, component: bmc, groups: [], ifaceLines: [line] });
  }
  entries.push({ line, id, component, groups, ifaceLines });
  return errors.length ? { entries: [], errors } : { entries, errors: [] };
}

function normalizeAll(items: RawItem[]): Parsed {
  const entries: Entry[] = [];
  const invalid: RowError[] = [];
  const invalidLines: number[] = [];
  const bmcs = new Map<string, Entry>();
  for (const item of items) {
    const r = normalizeItem(item);
    if (r.errors.length) {
      invalid.push(...r.errors);
      invalidLines.push(item.line);
      continue;
    }
    const out: Entry[] = [];
    let bad: RowError | undefined;
    for (const e of r.entries) {
      // Nodes sharing a BMC name it once; it is imported with the first.
      if (e.id !== r.entries.at(-1)!.id) {
        const first = bmcs.get(e.id);
        if (first) {
          const mac = (x: Entry) =>
            (x.component.interfaces as { macAddress?: string }[] | undefined)?.[0]?.macAddress;
          if (mac(first) !== mac(e))
            bad = {
              line: e.line,
              id: r.entries.at(-1)!.id,
              field: "bmc_mac",
              message: `BMC ${e.id} has MAC ${mac(first) ?? "(none)"} on line ${first.line}, not ${mac(e) ?? "(none)"}`,
            };
          continue;
        }
        bmcs.set(e.id, e);
      }
      out.push(e);
    }
    if (bad) {
      invalid.push(bad);
      invalidLines.push(item.line);
      for (const e of out) if (bmcs.get(e.id) === e) bmcs.delete(e.id);
      continue;
    }
    entries.push(...out);
  }
  return { items: items.length, entries, invalid, invalidLines };
}

// ---------- the API's answers ----------

/** `components[3].interfaces[0].macAddress` → item 3, field `interfaces[0].macAddress`. */
const ITEM = /^components\[(\d+)\]\.?(.*)$/;

/**
 * The per-item errors of a refused batch, on their entries' lines, with
 * references to other items (`duplicate of components[0].id`) turned into
 * lines. `failed` holds the batch indexes the API named; `unattributed`
 * the errors it did not tie to an item.
 */
export function itemErrors(
  batch: readonly Entry[],
  errors: readonly FieldError[],
): { rows: RowError[]; failed: Set<number>; unattributed: FieldError[] } {
  const rows: RowError[] = [];
  const failed = new Set<number>();
  const unattributed: FieldError[] = [];
  const refs = (msg: string) =>
    msg.replace(/components\[(\d+)\]\.?([\w.[\]]*)/g, (m, i: string, rest: string) => {
      const e = batch[Number(i)];
      return e ? `${rest || "the item"} on line ${lineOfField(e, rest)}` : m;
    });
  for (const f of errors) {
    const m = ITEM.exec(f.field);
    const i = m ? Number(m[1]) : Number.NaN;
    const entry = batch[i];
    if (!entry) {
      unattributed.push(f);
      continue;
    }
    failed.add(i);
    const field = m![2] || undefined;
    rows.push({
      line: lineOfField(entry, field),
      id: entry.id,
      ...(field ? { field } : {}),
      message: refs(f.message),
    });
  }
  return { rows, failed, unattributed };
}
