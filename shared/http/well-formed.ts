/**
 * Text a database cannot store, refused at the door: NUL (U+0000), which
 * Postgres text and jsonb reject, and lone UTF-16 surrogates, which have no
 * UTF-8 form. Either would otherwise reach a query and fail there as a 500.
 * Also bounds the nesting of JSON bodies, so that no later recursive step
 * (validation, serialisation, jsonb) runs out of stack.
 */
import type { FieldError } from "../problem";

/** NUL, a high surrogate not followed by a low one, or a low one not preceded by a high one. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: NUL is exactly what this looks for.
const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** Deeper than any Chamicore document needs (cloud-init meta-data included). */
export const MAX_JSON_DEPTH = 64;

/** Why a string cannot be stored, or undefined when it can. */
export function unstorable(s: string): string | undefined {
  const m = UNSTORABLE.exec(s);
  if (!m) return undefined;
  return m[0] === "\u0000"
    ? "contains a NUL character (U+0000), which cannot be stored"
    : "contains a lone UTF-16 surrogate, which is not valid Unicode text";
}

const UNSTORABLE_ALL = new RegExp(UNSTORABLE.source, "g");

/** `s` with each unstorable character replaced by U+FFFD: safe to show, log or store. */
export const storable = (s: string) => s.replace(UNSTORABLE_ALL, "\uFFFD");

/** `a.b[2].c` for a path of keys and indexes. */
function pathOf(path: readonly (string | number)[]): string {
  let out = "";
  for (const p of path) out += typeof p === "number" ? `[${p}]` : out ? `.${storable(p)}` : storable(p);
  return out;
}

/**
 * Every string value and key of a parsed JSON document that cannot be
 * stored (`text`), and where it nests beyond MAX_JSON_DEPTH (`depth`), as
 * field errors. Iterative, so a deeply nested body cannot exhaust the stack
 * here. Stops after `max` errors.
 */
export function jsonTextErrors(doc: unknown, max = 20): { text: FieldError[]; depth: FieldError[] } {
  const errors: FieldError[] = [];
  const depth: FieldError[] = [];
  const stack: { value: unknown; path: (string | number)[] }[] = [{ value: doc, path: [] }];
  while (stack.length > 0 && errors.length + depth.length < max) {
    const { value, path } = stack.pop()!;
    if (typeof value === "string") {
      const why = unstorable(value);
      if (why) errors.push({ field: pathOf(path) || "body", message: why });
      continue;
    }
    if (value === null || typeof value !== "object") continue;
    if (path.length >= MAX_JSON_DEPTH) {
      depth.push({ field: pathOf(path), message: `nests deeper than ${MAX_JSON_DEPTH} levels` });
      continue;
    }
    if (Array.isArray(value)) {
      for (let i = value.length - 1; i >= 0; i--) stack.push({ value: value[i], path: [...path, i] });
      continue;
    }
    for (const [k, v] of Object.entries(value)) {
      const why = unstorable(k);
      if (why) errors.push({ field: pathOf([...path, k]), message: `the key ${why}` });
      else stack.push({ value: v, path: [...path, k] });
    }
  }
  return { text: errors, depth };
}

/** Query parameters (names and values) that cannot be stored, as field errors. */
export function queryTextErrors(params: URLSearchParams): FieldError[] {
  const errors: FieldError[] = [];
  for (const [k, v] of params) {
    const why = unstorable(k) ?? unstorable(v);
    if (why) errors.push({ field: storable(k), message: why });
  }
  return errors;
}
