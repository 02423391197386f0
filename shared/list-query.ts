/**
 * List query parsing, the same for every collection:
 * `?type=Node,Switch&state=Ready` (comma = OR within a field, AND across
 * fields), `?sort=-createdAt`, `?limit=&offset=`, `?fields=id,nid`.
 * Unknown and repeated parameters are refused (400) so that a typo never
 * silently widens or narrows a query that a script then acts on.
 */
import { z } from "@hono/zod-openapi";
import { ApiError, type FieldError } from "./problem";

export interface FilterDef {
  /** What the filter matches, for the OpenAPI document. */
  description: string;
  /** Turns one comma-separated value into the stored form; throws a message on bad input. */
  parse?: (raw: string) => string | number | boolean;
  /** Other spellings accepted for the parameter (e.g. `parent_id`). */
  aliases?: string[];
}

export interface ListSpec {
  filters: Record<string, FilterDef>;
  sortable: readonly string[];
  /** Spec fields a client may ask for with `?fields=`. */
  fields: readonly string[];
  defaultSort: string;
}

export interface ListQuery {
  filters: Record<string, (string | number | boolean)[]>;
  sort: { field: string; desc: boolean };
  limit: number;
  offset: number;
  fields: string[] | undefined;
}

export const DEFAULT_LIMIT = 100;
export const MAX_LIMIT = 10_000;

const RESERVED = new Set(["sort", "limit", "offset", "fields"]);

export function parseListQuery(params: URLSearchParams, spec: ListSpec): ListQuery {
  const errors: FieldError[] = [];
  const aliases = new Map<string, string>();
  for (const [name, def] of Object.entries(spec.filters)) {
    aliases.set(name, name);
    for (const a of def.aliases ?? []) aliases.set(a, name);
  }

  const filters: ListQuery["filters"] = {};
  const spelledAs = new Map<string, string>();
  for (const key of new Set(params.keys())) {
    // One value per parameter, as documented: several values of a filter are comma-separated.
    if (params.getAll(key).length > 1) {
      errors.push({
        field: key,
        message: RESERVED.has(key)
          ? "may appear only once"
          : "may appear only once; separate several values with commas",
      });
      continue;
    }
    if (RESERVED.has(key)) continue;
    const name = aliases.get(key);
    if (!name) {
      errors.push({
        field: key,
        message: `unknown query parameter; filters here are: ${Object.keys(spec.filters).join(", ")}`,
      });
      continue;
    }
    const other = spelledAs.get(name);
    if (other !== undefined) {
      errors.push({ field: key, message: `is the same filter as ${other}: give it once` });
      continue;
    }
    spelledAs.set(name, key);
    const def = spec.filters[name]!;
    const values = params
      .get(key)!
      .split(",")
      .map((v) => v.trim())
      .filter((v) => v !== "");
    if (values.length === 0) {
      errors.push({ field: key, message: "needs a value" });
      continue;
    }
    const parsed: (string | number | boolean)[] = [];
    filters[name] = parsed;
    for (const v of values) {
      try {
        parsed.push(def.parse ? def.parse(v) : v);
      } catch (e) {
        errors.push({ field: key, message: `'${v}': ${e instanceof Error ? e.message : String(e)}` });
      }
    }
  }

  const sortRaw = params.get("sort") ?? spec.defaultSort;
  const desc = sortRaw.startsWith("-");
  const sortField = desc ? sortRaw.slice(1) : sortRaw;
  if (!spec.sortable.includes(sortField))
    errors.push({
      field: "sort",
      message: `can sort by ${spec.sortable.join(", ")} (prefix - for descending)`,
    });

  const limit = intParam(params.get("limit"), DEFAULT_LIMIT, 1, MAX_LIMIT, "limit", errors);
  const offset = intParam(params.get("offset"), 0, 0, Number.MAX_SAFE_INTEGER, "offset", errors);

  let fields: string[] | undefined;
  const fieldsRaw = params.get("fields");
  if (fieldsRaw !== null) {
    fields = fieldsRaw
      .split(",")
      .map((f) => f.trim())
      .filter(Boolean);
    const unknown = fields.filter((f) => !spec.fields.includes(f));
    if (unknown.length || fields.length === 0)
      errors.push({ field: "fields", message: `choose among ${spec.fields.join(", ")}` });
  }

  if (errors.length) {
    const repeated = errors.filter((e) => e.message.startsWith("may appear only once")).map((e) => e.field);
    throw new ApiError(
      "bad-request",
      repeated.length
        ? `The query parameter${repeated.length > 1 ? "s" : ""} ${repeated.join(", ")} may appear only once`
        : "The query parameters are not valid",
      { errors },
    );
  }
  return { filters, sort: { field: sortField, desc }, limit, offset, fields };
}

function intParam(
  raw: string | null,
  def: number,
  min: number,
  max: number,
  name: string,
  errors: FieldError[],
) {
  if (raw === null) return def;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    errors.push({ field: name, message: `must be a whole number from ${min} to ${max}` });
    return def;
  }
  return Number(raw);
}

/** Filter value parsers shared by the services. */
export const oneOf =
  (values: readonly string[]) =>
  (raw: string): string => {
    if (!values.includes(raw)) throw new Error(`must be one of ${values.join(", ")}`);
    return raw;
  };

/** The largest Postgres `integer`: the columns these filters compare with hold no more. */
export const MAX_INT4 = 2_147_483_647;

export const wholeNumber = (raw: string): number => {
  if (!/^\d+$/.test(raw) || Number(raw) > MAX_INT4)
    throw new Error(`must be a whole number up to ${MAX_INT4}`);
  return Number(raw);
};

export const boolean = (raw: string): boolean => {
  if (raw !== "true" && raw !== "false") throw new Error("must be true or false");
  return raw === "true";
};

/**
 * The OpenAPI description of a list's query parameters, derived from its
 * ListSpec so that what is documented is exactly what `parseListQuery` accepts.
 */
export function listQuerySchema(spec: ListSpec) {
  const param = (description: string) => z.string().optional().openapi({ description });
  const shape: Record<string, ReturnType<typeof param>> = {};
  for (const [name, def] of Object.entries(spec.filters)) {
    const also = def.aliases?.length ? ` (also spelled ${def.aliases.join(", ")})` : "";
    shape[name] = param(`${def.description}${also}; comma-separated values match any of them`);
  }
  shape.sort = param(
    `One of ${spec.sortable.join(", ")}; prefix - for descending (default ${spec.defaultSort})`,
  );
  shape.limit = param(`Page size, 1–${MAX_LIMIT} (default ${DEFAULT_LIMIT})`);
  shape.offset = param("Items to skip (default 0)");
  shape.fields = param(`Sparse fieldset: spec fields to return, among ${spec.fields.join(", ")}`);
  return z.object(shape);
}
