/**
 * user-data and vendor-data documents: what kind a document is (from its
 * first line, as cloud-init decides), whether it is acceptable on write, and
 * YAML in and out for `#cloud-config`.
 *
 * YAML is read and written as YAML 1.1, which is what cloud-init's PyYAML
 * speaks: `0644` is octal, `yes`/`on` are booleans — but, as in PyYAML and
 * unlike the `yaml` package's own 1.1 schema, a bare `y`/`n` stays a string.
 */
import {
  Document,
  type DocumentOptions,
  isScalar,
  isSeq,
  type ParseOptions,
  parseDocument,
  type ScalarTag,
  type SchemaOptions,
  type Tags,
  visit,
} from "yaml";
import { ApiError } from "../../shared/problem";

export type DocumentKind =
  | "cloud-config"
  | "cloud-config-archive"
  | "script"
  | "include"
  | "boothook"
  | "part-handler"
  | "jinja"
  | "mime";

/** Exact first lines (trailing blanks ignored) and the kind they announce. */
const HEADER_LINES: Record<string, DocumentKind> = {
  "#cloud-config": "cloud-config",
  "#cloud-config-archive": "cloud-config-archive",
  "#include": "include",
  "#include-once": "include",
  "#cloud-boothook": "boothook",
  "#part-handler": "part-handler",
  "## template: jinja": "jinja",
};

export const CLOUD_CONFIG_HEADER = "#cloud-config";

const firstLine = (text: string, from = 0) => {
  const end = text.indexOf("\n", from);
  return (end < 0 ? text.slice(from) : text.slice(from, end)).replace(/\s+$/, "");
};

/** The kind of a document, or undefined when cloud-init would not recognise it. */
export function kindOf(text: string): DocumentKind | undefined {
  const line = firstLine(text);
  if (line.startsWith("#!")) return "script";
  const kind = HEADER_LINES[line];
  if (kind) return kind;
  if (/^(content-type:\s*multipart\/|mime-version:)/i.test(line)) return "mime";
  return undefined;
}

const PY_TRUE = /^(?:[Yy]es|YES|[Tt]rue|TRUE|[Oo]n|ON)$/;
const PY_FALSE = /^(?:[Nn]o|NO|[Ff]alse|FALSE|[Oo]ff|OFF)$/;
/** PyYAML's YAML 1.1 booleans: the `yaml` package also counts `y`, `Y`, `n`, `N`. */
const pyYamlTags = (tags: Tags): Tags =>
  tags.map((t) =>
    typeof t === "object" && t.tag === "tag:yaml.org,2002:bool"
      ? ({ ...t, test: t.identify?.(true) ? PY_TRUE : PY_FALSE } as ScalarTag)
      : t,
  );
const YAML_OPTIONS: ParseOptions & DocumentOptions & SchemaOptions = {
  version: "1.1",
  customTags: pyYamlTags,
  prettyErrors: true,
};

/** A YAML error as `line 3, column 1: Map keys must be unique`. */
function yamlProblem(e: { message: string; linePos?: [{ line: number; col: number }, ...unknown[]] }) {
  const what = e.message.split(/ at line \d+, column \d+:?/)[0]!.split("\n")[0]!;
  const at = e.linePos?.[0];
  return at ? `line ${at.line}, column ${at.col}: ${what}` : what;
}

/** The YAML value of a document's text; throws a message naming the line. */
function parseYaml(text: string): unknown {
  const doc = parseDocument(text, YAML_OPTIONS);
  const err = doc.errors[0];
  if (err) throw new Error(`is not valid YAML: ${yamlProblem(err)}`);
  try {
    // Aliases are expanded at most 100 times ("billion laughs" stays small).
    return doc.toJS({ maxAliasCount: 100 });
  } catch (e) {
    throw new Error(`is not valid YAML: ${e instanceof Error ? e.message : String(e)}`);
  }
}

const isMapping = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;

/** Why `text` is not acceptable user-data (or vendor-data), or undefined when it is. */
export function documentProblem(text: string): string | undefined {
  const kind = kindOf(text);
  if (!kind) {
    const line = firstLine(text);
    const shown = line.length > 40 ? `${line.slice(0, 40)}…` : line;
    return `must start with a cloud-init header such as #cloud-config or #! (line 1 is '${shown}')`;
  }
  try {
    if (kind === "cloud-config") {
      const value = parseYaml(text);
      if (value !== null && value !== undefined && !isMapping(value))
        return "#cloud-config must be a YAML mapping (key: value lines) after the header";
    } else if (kind === "cloud-config-archive") {
      if (!Array.isArray(parseYaml(text))) return "#cloud-config-archive must be a YAML list of parts";
    } else if (kind === "jinja") {
      const second = firstLine(text, text.indexOf("\n") + 1);
      const inner = text.includes("\n") ? kindOf(second) : undefined;
      if (!inner || inner === "jinja")
        return "## template: jinja must be followed on line 2 by the header of the rendered document (e.g. #cloud-config)";
    } else if (kind === "mime" && !/mime-version:/i.test(text.slice(0, 4096)))
      return "a MIME multipart document needs a MIME-Version header in its first 4096 bytes (cloud-init looks for it there)";
  } catch (e) {
    return (e as Error).message;
  }
  return undefined;
}

/** Throws a 422 naming `field` when `text` is not acceptable user-data or vendor-data. */
export function checkDocument(field: string, text: string | null | undefined): void {
  if (text === null || text === undefined) return;
  const problem = documentProblem(text);
  if (problem)
    throw new ApiError("validation", `${field} is not a cloud-init document cloud-init would accept`, {
      errors: [{ field, message: problem }],
    });
}

/** The mapping of a `#cloud-config` document already accepted on write (an empty one is `{}`). */
export function cloudConfigOf(text: string): Record<string, unknown> {
  const value = parseYaml(text);
  return isMapping(value) ? value : {};
}

/**
 * `#cloud-config` + the mapping as YAML 1.1, without anchors or folded
 * lines; a list of scalars inside a list is written inline, as people write
 * `runcmd` entries (`- [systemctl, restart, slurmd]`).
 */
export function renderCloudConfig(value: Record<string, unknown>): string {
  const doc = new Document(value, { ...YAML_OPTIONS, aliasDuplicateObjects: false });
  visit(doc, {
    Seq(_key, node, path) {
      if (isSeq(path[path.length - 1]) && node.items.every(isScalar)) node.flow = true;
    },
  });
  return `${CLOUD_CONFIG_HEADER}\n${doc.toString({ lineWidth: 0, flowCollectionPadding: false })}`;
}
