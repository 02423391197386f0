/**
 * The usual verbs of one API resource as a command group:
 *
 *   list [--filter flags] [--limit N --offset N]
 *   get ID
 *   create (-f FILE | flags | --set k=v)
 *   update ID (-f FILE | flags | --set k=v)    JSON Merge Patch, guarded by the ETag just read
 *   delete ID...
 *
 * Every call goes through the typed client (shared/client); the paths are
 * the OpenAPI document's. Verbs a resource does not have are left out.
 */
import type { Argv, Options } from "yargs";
import { type ApiClient, unwrap } from "../../shared/client";
import type { Cli, GlobalOptions } from "../../shared/node/cli/app";
import { CliError, EXIT } from "../../shared/node/cli/errors";
import type { Column } from "../../shared/node/cli/output";
import { readDocument, setPairs } from "./input";

type Args = GlobalOptions & Record<string, unknown>;

export interface ResourceSpec {
  /** The command name (plural), e.g. `components`. */
  name: string;
  aliases?: string[];
  describe: string;
  /** The collection's path, e.g. `/hsm/v2/State/Components`. */
  path: string;
  /** The path parameter naming one item (`id`, `name`). */
  key?: string;
  columns: Column[];
  verbs: ("list" | "get" | "create" | "update" | "delete")[];
  /** List filters: query parameters offered as flags. */
  filters?: Record<string, Options>;
  /** Flags that build a create or update body (besides -f and --set). */
  fields?: Record<string, Options>;
  /** Turns those flags into body fields (default: the flags as given, when set). */
  body?: (a: Args) => Record<string, unknown>;
  examples?: [string, string][];
  /** The group this one sits in (`smd`, `auth`), for usage lines and examples. */
  parent?: string;
  /** An id to show in the verbs' examples. */
  sample?: string;
  /** Examples per verb, replacing the generated ones. */
  verbExamples?: Partial<Record<ResourceSpec["verbs"][number], [string, string][]>>;
  /** Further subcommands of the group (e.g. group members). */
  more?: (y: Argv, cli: Cli) => Argv;
}

// Generic over paths, so the typed methods are called with the path as a plain string.
type Loose = {
  GET: (p: string, o: unknown) => Promise<{ data?: unknown; error?: unknown; response: Response }>;
  POST: Loose["GET"];
  PATCH: Loose["GET"];
  PUT: Loose["GET"];
  DELETE: Loose["GET"];
};
export const loose = (c: ApiClient) => c as unknown as Loose;

/** The body from -f, the resource's flags and --set, merged in that order. */
export function bodyOf(
  spec: Pick<ResourceSpec, "fields" | "body">,
  a: Args,
  cli: Cli,
): Record<string, unknown> {
  const fromFile = a.file ? readDocument(String(a.file), cli.io.stdin) : {};
  if (typeof fromFile !== "object" || fromFile === null || Array.isArray(fromFile))
    throw new CliError(EXIT.usage, `${a.file} must hold one object`);
  const fromFlags =
    spec.body?.(a) ??
    Object.fromEntries(
      Object.keys(spec.fields ?? {}).flatMap((k) => (a[k] === undefined ? [] : [[k, a[k]]])),
    );
  return {
    ...(fromFile as Record<string, unknown>),
    ...fromFlags,
    ...setPairs(a.set as string[] | undefined),
  };
}

const withBodyOptions = (y: Argv, spec: ResourceSpec) =>
  y
    .options(spec.fields ?? {})
    .option("file", { alias: "f", type: "string", describe: "JSON or YAML document ('-' reads stdin)" })
    .option("set", { type: "string", array: true, describe: "field=value (repeatable; dotted keys nest)" });

export function resourceCommand(y: Argv, cli: Cli, spec: ResourceSpec): Argv {
  const key = spec.key ?? "id";
  const item = `${spec.path}/{${key}}`;
  const one = (a: Args) => ({ params: { path: { [key]: String(a[key]) } } });
  const full = [spec.parent, spec.name].filter(Boolean).join(" ");
  const sample = spec.sample ?? "ID";
  const generated: Record<ResourceSpec["verbs"][number], [string, string][]> = {
    list: [[`$0 ${full} list --limit 20 -o json`, `the first 20 ${spec.name}, as JSON`]],
    get: [[`$0 ${full} get ${sample}`, ""]],
    create: [[`$0 ${full} create -f ${spec.name}.yaml`, "from a JSON or YAML file ('-' reads stdin)"]],
    update: [[`$0 ${full} update ${sample} -f changes.yaml`, "fields in the file change; null resets one"]],
    delete: [[`$0 ${full} delete ${sample}`, ""]],
  };
  /** A verb's examples (its help lists only its own). */
  const examples = (c: Argv, verb: ResourceSpec["verbs"][number]) => {
    for (const [cmd, text] of spec.verbExamples?.[verb] ?? generated[verb]) c.example(cmd, text);
    return c;
  };
  return y.command([spec.name, ...(spec.aliases ?? [])], spec.describe, (g) => {
    g.usage(`$0 ${full} <command>\n\n${spec.describe}`).demandCommand(1, `say what to do with ${spec.name}`);
    for (const [cmd, text] of spec.examples ?? []) g.example(cmd, text);
    if (spec.verbs.includes("list"))
      g.command(
        ["list", "ls"],
        `list ${spec.name}`,
        (c) =>
          examples(c, "list")
            .options(spec.filters ?? {})
            .option("limit", { type: "number", describe: "at most this many" })
            .option("offset", { type: "number", describe: "skip this many" }),
        async (a: Args) => {
          const query = Object.fromEntries(
            [...Object.keys(spec.filters ?? {}), "limit", "offset"].flatMap((k) =>
              a[k] === undefined ? [] : [[k, a[k]]],
            ),
          );
          const { data } = await unwrap(loose(cli.session(a).client).GET(spec.path, { params: { query } }));
          cli.printer(a).print(data, spec.columns);
        },
      );
    if (spec.verbs.includes("get"))
      g.command(
        `get <${key}>`,
        `show one of the ${spec.name}`,
        (c) => examples(c, "get").positional(key, { type: "string" }),
        async (a: Args) => {
          const { data } = await unwrap(loose(cli.session(a).client).GET(item, one(a)));
          cli.printer(a).print(data, spec.columns);
        },
      );
    if (spec.verbs.includes("create"))
      g.command(
        "create",
        `create one of the ${spec.name}`,
        (c) => withBodyOptions(examples(c, "create"), spec),
        async (a: Args) => {
          const { data } = await unwrap(
            loose(cli.session(a).client).POST(spec.path, { body: bodyOf(spec, a, cli) }),
          );
          cli.printer(a).print(data, spec.columns);
        },
      );
    if (spec.verbs.includes("update"))
      g.command(
        `update <${key}>`,
        `change fields of one of the ${spec.name} (JSON Merge Patch: null resets a field)`,
        (c) => withBodyOptions(examples(c, "update").positional(key, { type: "string" }), spec),
        async (a: Args) => {
          const body = bodyOf(spec, a, cli);
          if (Object.keys(body).length === 0)
            throw new CliError(EXIT.usage, "nothing to change: give -f, --set or a field flag");
          const api = loose(cli.session(a).client);
          // Guarded by the ETag just read: a change made meanwhile by someone else is not overwritten.
          const { response } = await unwrap(api.GET(item, one(a)));
          const { data } = await unwrap(
            api.PATCH(item, {
              ...one(a),
              body,
              headers: {
                "Content-Type": "application/merge-patch+json",
                "If-Match": response.headers.get("ETag") ?? "*",
              },
            }),
          );
          cli.printer(a).print(data, spec.columns);
        },
      );
    if (spec.verbs.includes("delete"))
      g.command(
        `delete <${key}..>`,
        `delete ${spec.name}`,
        (c) => examples(c, "delete").positional(key, { type: "string", array: true }),
        async (a: Args) => {
          const api = loose(cli.session(a).client);
          const printer = cli.printer(a);
          for (const id of a[key] as string[]) {
            await unwrap(api.DELETE(item, { params: { path: { [key]: id } } }));
            printer.err(`deleted ${id}`);
          }
        },
      );
    spec.more?.(g, cli);
    return g;
  });
}
