/**
 * What commands print: `--output table|json|yaml`. Without the flag: the
 * config file's `output`, else a table on a terminal and JSON otherwise, so
 * that scripts get stable JSON without asking. JSON and YAML are the API's
 * own documents, unchanged (lists keep their envelope and `metadata.total`);
 * tables show chosen columns.
 */
import { stringify } from "yaml";

export type Format = "table" | "json" | "yaml";
export const FORMATS: Format[] = ["table", "json", "yaml"];

export type Column<T = unknown> = [header: string, value: (row: T) => unknown];

export interface Printer {
  format: Format;
  out(text: string): void;
  err(text: string): void;
  /** A document or list; `columns` say how rows look in a table. */
  print(doc: unknown, columns?: Column[]): void;
}

const cell = (v: unknown): string => {
  if (v === null || v === undefined) return "";
  if (Array.isArray(v)) return v.map(cell).join(",");
  if (typeof v === "object") return JSON.stringify(v);
  return String(v);
};

/** Width on a terminal: colour codes take none. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: the escape is what is matched.
const shown = (s: string) => s.replace(/\x1b\[[0-9;]*m/g, "").length;

/** Plain aligned columns (kubectl-style): easy to read and to `awk`. */
export function table(rows: unknown[], columns: Column[]): string {
  const cells = rows.map((r) => columns.map(([, f]) => cell(f(r))));
  const head = columns.map(([h]) => h);
  const width = head.map((h, i) => Math.max(h.length, ...cells.map((c) => shown(c[i]!))));
  const line = (c: string[]) =>
    c
      .map((v, i) => (i === c.length - 1 ? v : v + " ".repeat(width[i]! - shown(v))))
      .join("  ")
      .trimEnd();
  return [line(head), ...cells.map(line)].join("\n");
}

/** The rows of a list document (`items`), or the document itself as one row. */
const rowsOf = (doc: unknown): unknown[] => {
  const items = (doc as { items?: unknown })?.items;
  return Array.isArray(items) ? items : Array.isArray(doc) ? doc : [doc];
};

/** Columns for a document without chosen ones: the id and the spec's scalar fields. */
function defaultColumns(rows: unknown[]): Column[] {
  const first = rows[0] as { metadata?: { id?: unknown }; spec?: Record<string, unknown> } | undefined;
  if (first?.spec && typeof first.spec === "object") {
    const keys = Object.keys(first.spec).filter(
      (k) => typeof first.spec![k] !== "object" || first.spec![k] === null,
    );
    return [
      ["ID", (r) => (r as typeof first).metadata?.id],
      ...keys.slice(0, 6).map((k): Column => [k.toUpperCase(), (r) => (r as typeof first).spec?.[k]]),
    ];
  }
  if (first && typeof first === "object")
    return Object.keys(first).map((k): Column => [k.toUpperCase(), (r) => (r as Record<string, unknown>)[k]]);
  return [["VALUE", (r) => r]];
}

export function createPrinter(
  format: Format | undefined,
  io: { stdout: NodeJS.WriteStream; stderr: NodeJS.WriteStream },
  fallback?: Format,
): Printer {
  const chosen = format ?? fallback ?? (io.stdout.isTTY ? "table" : "json");
  const out = (t: string) => io.stdout.write(t.endsWith("\n") ? t : `${t}\n`);
  return {
    format: chosen,
    out,
    err: (t) => io.stderr.write(t.endsWith("\n") ? t : `${t}\n`),
    print(doc, columns) {
      if (chosen === "json") return out(JSON.stringify(doc, null, 2));
      // No folding: scripts and user-data stay readable, line for line.
      if (chosen === "yaml") return out(stringify(doc, { lineWidth: 0 }));
      const rows = rowsOf(doc);
      if (rows.length === 0) return out("(none)");
      out(table(rows, columns ?? defaultColumns(rows)));
      const total = (doc as { metadata?: { total?: number } })?.metadata?.total;
      if (typeof total === "number" && total > rows.length)
        out(`(${rows.length} of ${total}; --limit and --offset page)`);
    },
  };
}
