/**
 * What every command group builds with: the group type main.ts registers,
 * columns over the resource envelope, flags-to-body mapping, and the enums
 * the API accepts (checked against the generated client at compile time).
 */
import type { Argv, Options } from "yargs";
import type { Schemas } from "../../shared/client";
import type { Cli, GlobalOptions } from "../../shared/node/cli/app";
import { CliError, EXIT } from "../../shared/node/cli/errors";
import type { Column } from "../../shared/node/cli/output";

/** A command group: adds its commands to the tree. */
export type CommandModule = (y: Argv, cli: Cli) => Argv;

export type Args = GlobalOptions & Record<string, unknown>;
export type Example = [command: string, text: string];

/**
 * Every value of a string union, in a list checked both ways against the
 * generated client's type: a value the API drops or adds fails to compile.
 * (Importing shared/enums instead would load zod-openapi at every start.)
 */
const every =
  <T extends string>() =>
  <const A extends readonly T[]>(
    list: A & ([Exclude<T, A[number]>] extends [never] ? unknown : { missing: Exclude<T, A[number]> }),
  ): A =>
    list;

export const ROLES = every<NonNullable<Schemas["Role"]>>()([
  "Compute",
  "Service",
  "System",
  "Application",
  "Storage",
  "Management",
]);
export const SUB_ROLES = every<NonNullable<Schemas["SubRole"]>>()([
  "Worker",
  "Master",
  "Storage",
  "UAN",
  "Gateway",
  "LNETRouter",
  "Visualization",
  "UserDefined",
]);
export const STATES = every<Schemas["State"]>()([
  "Unknown",
  "Empty",
  "Populated",
  "Off",
  "On",
  "Standby",
  "Halt",
  "Ready",
]);
export const FLAGS = every<Schemas["Flag"]>()(["OK", "Warning", "Alert", "Locked", "Unknown"]);
export const ARCHES = every<NonNullable<Schemas["Arch"]>>()(["X86", "ARM", "Other", "UNKNOWN"]);
export const NET_TYPES = every<NonNullable<Schemas["NetType"]>>()([
  "Sling",
  "Infiniband",
  "Ethernet",
  "OEM",
  "None",
]);

/** The spec of a resource row (lists and single resources share the envelope). */
const specOf = (row: unknown) =>
  ((row as { spec?: Record<string, unknown> }).spec ?? {}) as Record<string, unknown>;

/** A table column over a spec field, or over a function of the spec. */
export const col = (header: string, field: string | ((spec: Record<string, unknown>) => unknown)): Column => [
  header,
  (r) => (typeof field === "string" ? specOf(r)[field] : field(specOf(r))),
];
export const idColumn: Column = ["ID", (r) => (r as { metadata?: { id?: unknown } }).metadata?.id];

/** A list filter flag: `comma = any of`, as the API reads it. */
export const filter = (describe: string, o: Options = {}): Options => ({
  type: "string",
  describe: `${describe} (comma-separated: any of them)`,
  ...o,
});
export const sortFilter = (fields: string): Options => ({
  type: "string",
  describe: `sort by ${fields}; prefix - for descending (--sort=-field)`,
});

/**
 * Body fields from flags: `{flag: bodyField}`, only those given. A number
 * flag given a non-number is a usage error (JSON would send it as null,
 * which resets the field).
 */
export function picked(a: Args, fields: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [flag, field] of Object.entries(fields)) {
    const v = a[flag];
    if (v === undefined) continue;
    if (typeof v === "number" && !Number.isFinite(v))
      throw new CliError(EXIT.usage, `--${flag} takes a number`);
    out[field] = v;
  }
  return out;
}

/**
 * The `--id` (or `--name`) of a new item, on create only: on update the
 * same argument is the positional naming the item, and must not make an
 * otherwise empty change look like one.
 */
export const newKey = (a: Args, key = "id"): Record<string, unknown> =>
  (a._ as unknown[] | undefined)?.at(-1) === "create" && a[key] !== undefined
    ? { [key]: String(a[key]) }
    : {};

/** A command group (`smd`, `bss`, `cloud-init`) with its own usage and examples. */
export function commandGroup(
  y: Argv,
  name: string,
  describe: string,
  examples: Example[],
  build: (g: Argv) => Argv,
): Argv {
  return y.command(name, describe, (g) => {
    g.usage(`$0 ${name} <command>\n\n${describe}`).demandCommand(1, `say what to do in ${name}`);
    for (const [e, text] of examples) g.example(e, text);
    return build(g);
  });
}
