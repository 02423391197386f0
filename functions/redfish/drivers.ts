/**
 * The discovery drivers, as `GET /discovery/v1/drivers` lists them: each
 * with its options as a zod schema (a target's options are parsed with it
 * once, when the target is written; the listing shows it as JSON Schema).
 *
 *   - `redfish`: scans a BMC (discovery.ts);
 *   - `import`: reads a CSV, JSON or YAML file (also OpenCHAMI nodes.yaml)
 *     with the CLI's importer (functions/inventory/import-file.ts), so
 *     that a file gives the same components through either path.
 *
 * Both give a DiscoveryResult: import items checked with the API's schema,
 * and problems naming where (a Redfish path, or `file:line`).
 */
import { z } from "zod";
import { formatOf, ImportFileError, type ImportFormat, parseImport } from "../inventory/import-file";
import { ComponentCreateSchema } from "../inventory/schemas";
import type { ComponentImportItem, DiscoveryProblem, DiscoveryResult } from "./discovery";
import { NamingSchema } from "./naming";

export const RedfishOptionsSchema = z.strictObject({
  naming: NamingSchema.optional(),
  auth: z
    .enum(["basic", "session"])
    .default("basic")
    .describe("HTTP Basic on every request, or a Redfish session (X-Auth-Token) for BMCs slow at Basic"),
  insecure: z
    .boolean()
    .default(false)
    .describe("Accept any TLS certificate from the BMC (most ship a self-signed one)"),
});
export type RedfishOptions = z.infer<typeof RedfishOptionsSchema>;

export const IMPORT_FORMATS = ["csv", "json", "yaml"] as const satisfies readonly ImportFormat[];

export const ImportOptionsSchema = z.strictObject({
  format: z
    .enum(IMPORT_FORMATS)
    .optional()
    .describe("csv, json or yaml (also OpenCHAMI nodes.yaml); default: from the file name, else the content"),
});
export type ImportOptions = z.infer<typeof ImportOptionsSchema>;

export interface DiscoveryDriver {
  name: string;
  description: string;
  options: z.ZodType;
}

export const discoveryDrivers = [
  {
    name: "redfish",
    description:
      "Scans a BMC's Redfish service: the BMC, a node per ComputerSystem with its MACs, IPv4 addresses and power state, and the enclosing chassis when the BMC's id is an xname",
    options: RedfishOptionsSchema,
  },
  {
    name: "import",
    description:
      "Reads components from a file: CSV with a header, JSON or YAML {components: [...]} (the body of POST /hsm/v2/import), or OpenCHAMI nodes.yaml",
    options: ImportOptionsSchema,
  },
] as const satisfies readonly DiscoveryDriver[];

export type DriverName = (typeof discoveryDrivers)[number]["name"];

/** The drivers as `GET /discovery/v1/drivers` answers: options as JSON Schema (what a client may send). */
export function describeDrivers() {
  return discoveryDrivers.map((d) => ({
    name: d.name,
    description: d.description,
    options: z.toJSONSchema(d.options, { io: "input" }),
  }));
}

export interface ImportResult extends DiscoveryResult {
  /** Group → the ids to add to it once they are in (the file's group columns). */
  groups: Record<string, string[]>;
}

/**
 * A file's components through the CLI's importer; without a format, the
 * file name's extension or else the content says which. A file it cannot use at
 * all (no header, not JSON or YAML, another shape) is one problem, not an
 * error, as a BMC that fails in part is for the redfish driver.
 */
export function importDriver(text: string, format?: ImportFormat, name = "the file"): ImportResult {
  let parsed: ReturnType<typeof parseImport>;
  try {
    parsed = parseImport(text, formatOf(name, text, format), name);
  } catch (e) {
    if (e instanceof ImportFileError)
      return { components: [], problems: [{ path: name, message: e.message }], groups: {} };
    throw e;
  }
  const problems: DiscoveryProblem[] = parsed.invalid.map((r) => ({
    path: `${name}:${r.line}`,
    message: r.message,
    ...(r.id !== undefined ? { id: r.id } : {}),
    ...(r.field !== undefined ? { field: r.field } : {}),
  }));
  const components: ComponentImportItem[] = [];
  const groups = new Map<string, string[]>();
  for (const entry of parsed.entries) {
    // The importer checked the item with this schema; parsing again gives it its type.
    const r = ComponentCreateSchema.safeParse(entry.component);
    if (!r.success) {
      problems.push({ path: `${name}:${entry.line}`, id: entry.id, message: r.error.issues[0]!.message });
      continue;
    }
    components.push(r.data);
    for (const g of entry.groups) {
      const members = groups.get(g);
      if (members) members.push(entry.id);
      else groups.set(g, [entry.id]);
    }
  }
  return { components, problems, groups: Object.fromEntries(groups) };
}
