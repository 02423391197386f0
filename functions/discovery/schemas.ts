/**
 * Discovery schemas (`/discovery/v1`): targets (what to scan, with which
 * credential), scans and their per-address results, drivers. The single
 * source for request validation, response types and the OpenAPI document.
 */
import { z } from "@hono/zod-openapi";
import { IdSchema } from "../inventory/schemas";
import type { RedfishOptionsSchema } from "../redfish/drivers";
import { expandAddress, MAX_TARGET_ADDRESSES, TARGET_ADDRESS_RULE } from "./addresses";

/** `apiVersion` of every discovery resource. */
export const DISCOVERY_API_VERSION = "discovery/v1";
export const TARGET_KIND = "DiscoveryTarget";
export const SCAN_KIND = "DiscoveryScan";
export const DRIVER_KIND = "DiscoveryDriver";

export const SCAN_STATES = ["new", "running", "completed", "failed", "cancelled"] as const;
export type ScanState = (typeof SCAN_STATES)[number];
/** A scan in one of these changes no more. */
export const FINAL_SCAN_STATES: readonly ScanState[] = ["completed", "failed", "cancelled"];

/** Drivers a target may name; `import` reads files and is the CLI's. */
export const TARGET_DRIVERS = ["redfish"] as const;

/** Addresses and ranges as written; spelled out, normalized and without repeats once parsed. */
const AddressesSchema = z
  .array(z.string().max(2048))
  .min(1)
  .max(MAX_TARGET_ADDRESSES)
  .transform((given, ctx) => {
    const out = new Set<string>();
    given.forEach((entry, i) => {
      const r = expandAddress(entry);
      if ("error" in r) ctx.addIssue({ code: "custom", path: [i], message: r.error });
      else for (const a of r) out.add(a);
    });
    if (out.size > MAX_TARGET_ADDRESSES)
      ctx.addIssue({
        code: "custom",
        message: `more than ${MAX_TARGET_ADDRESSES} addresses once ranges are spelled out`,
      });
    return [...out];
  })
  .openapi({
    type: "array",
    items: { type: "string" },
    example: ["https://10.1.3.17", "10.1.3.100-131"],
    description: `The BMCs to scan, each ${TARGET_ADDRESS_RULE}. Ranges are spelled out when stored (at most ${MAX_TARGET_ADDRESSES} addresses).`,
  });

const SiteSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, "1–63 letters, digits, '.', '_' or '-'")
  .openapi({ example: "east" });

/** The Redfish driver's options, as the target stores them (defaults filled in). */
export type TargetOptions = z.output<typeof RedfishOptionsSchema>;

const OptionsSchema = z.record(z.string(), z.unknown()).openapi({
  description:
    'The driver\'s options (GET /discovery/v1/drivers): for redfish `{naming?: {map?: {"10.1.3.17": "x1000c0s0b0"}, rule?: "x{c+1000}c0s{d-100}b0"}, auth?: "basic"|"session", insecure?: boolean}`.',
});

/** How often a target is scanned by itself. */
const ScheduleSchema = z
  .strictObject({
    everyMinutes: z
      .number()
      .int()
      .min(5)
      .max(525_600)
      .openapi({ example: 1440, description: "Minutes between two scheduled scans (5 to a year)." }),
  })
  .openapi("DiscoverySchedule");

export const TargetSchema = z
  .object({
    id: IdSchema.openapi({ example: "rack1" }),
    name: z.string(),
    addresses: z.array(z.string()).openapi({ example: ["https://10.1.3.17"] }),
    driver: z.enum(TARGET_DRIVERS),
    credentialId: IdSchema.openapi({ example: "bmc-east" }),
    site: z.string().nullable(),
    options: OptionsSchema,
    schedule: ScheduleSchema.nullable(),
    nextScanAt: z.string().nullable().openapi({
      format: "date-time",
      description: "When the next scheduled scan starts (read-only; null without a schedule).",
    }),
  })
  .openapi("DiscoveryTargetSpec");
export type Target = Omit<z.infer<typeof TargetSchema>, "options"> & { options: TargetOptions };
export type Schedule = z.infer<typeof ScheduleSchema>;

const targetWritable = {
  name: z.string().max(255).optional(),
  addresses: AddressesSchema,
  driver: z.enum(TARGET_DRIVERS).optional().openapi({ description: "Default redfish." }),
  credentialId: IdSchema.openapi({
    example: "bmc-east",
    description: "A device credential (/auth/v1/credentials) with the BMCs' user name and password.",
  }),
  site: SiteSchema.nullish().openapi({
    description: "The edge site that can reach these BMCs; null or absent: the control plane's own agent.",
  }),
  options: OptionsSchema.optional(),
  schedule: ScheduleSchema.nullish().openapi({
    description:
      "Scan the target by itself every `everyMinutes` (the first scan starts at once); null or absent: only when asked.",
  }),
};

export const TargetCreateSchema = z
  .strictObject({ id: IdSchema.openapi({ example: "rack1" }), ...targetWritable })
  .openapi("DiscoveryTargetCreate");
export type TargetCreate = z.infer<typeof TargetCreateSchema>;

export const TargetReplaceSchema = z
  .strictObject({
    id: IdSchema.optional().openapi({ description: "If given, must equal the path id." }),
    ...targetWritable,
  })
  .openapi("DiscoveryTargetReplace");
export type TargetReplace = z.infer<typeof TargetReplaceSchema>;

/** A merge patch (RFC 7396) of a target: null resets name, site and options, and merges into options. */
export const TargetPatchSchema = z
  .strictObject({
    id: IdSchema.optional().openapi({ description: "If given, must equal the path id (ids do not change)." }),
    name: targetWritable.name.nullable(),
    addresses: targetWritable.addresses.optional(),
    driver: targetWritable.driver,
    credentialId: targetWritable.credentialId.optional(),
    site: targetWritable.site,
    options: OptionsSchema.nullish().openapi({
      description: "Merged into the target's options (RFC 7396: null removes a key); null resets them all.",
    }),
    schedule: targetWritable.schedule,
  })
  .openapi("DiscoveryTargetPatch");
export type TargetPatch = z.infer<typeof TargetPatchSchema>;

// ---------- scans ----------

export const ScanCreateSchema = z
  .strictObject({
    targets: z
      .array(IdSchema)
      .min(1)
      .max(1000)
      .optional()
      .openapi({ description: "Target ids; default: every target." }),
    dryRun: z.boolean().optional().openapi({
      description: "true: scan and report what would be created and updated, without writing anything.",
    }),
  })
  .openapi("DiscoveryScanCreate");
export type ScanCreate = z.infer<typeof ScanCreateSchema>;

export const AddressResultSchema = z
  .object({
    targetId: z.string(),
    address: z.string(),
    state: z.enum(["ok", "failed", "cancelled"]),
    bmcId: z.string().nullable().openapi({ description: "The BMC's component id, when it was named." }),
    created: z.array(z.string()).openapi({ description: "Components created (dry run: that would be)." }),
    updated: z.array(z.string()).openapi({ description: "Components changed (state, parent, new MACs)." }),
    unchanged: z.array(z.string()),
    interfacesAdded: z.array(z.string()).openapi({ description: "MACs added to the inventory." }),
    ipAddressesAdded: z.array(z.string()).openapi({
      example: ["aa:bb:cc:dd:ee:00 10.1.0.17"],
      description:
        "`MAC IP`: IPv4 addresses added to interfaces the component already had (none is removed).",
    }),
    bmcEndpoint: z
      .enum(["created", "updated", "unchanged"])
      .nullable()
      .openapi({ description: "What happened to the power BMC endpoint (/power/v1/bmcs)." }),
    problems: z.array(
      z.object({
        path: z.string(),
        id: z.string().optional(),
        field: z.string().optional(),
        message: z.string(),
      }),
    ),
    error: z.string().nullable().openapi({ description: "Why the address failed." }),
  })
  .openapi("DiscoveryAddressResult");
export type AddressResult = z.infer<typeof AddressResultSchema>;

export const ScanSchema = z
  .object({
    id: z.string().openapi({ format: "uuid" }),
    targetIds: z.array(z.string()),
    state: z.enum(SCAN_STATES),
    dryRun: z.boolean(),
    site: z.string().nullable(),
    requestedBy: z.string(),
    message: z.string().openapi({ description: "Why a scan failed or was cancelled." }),
    startedAt: z.string().nullable().openapi({ format: "date-time" }),
    finishedAt: z.string().nullable().openapi({ format: "date-time" }),
    results: z
      .array(AddressResultSchema)
      .optional()
      .openapi({ description: "One per target address scanned so far (single GET only)." }),
  })
  .openapi("DiscoveryScanSpec");
export type Scan = z.infer<typeof ScanSchema>;

export const DriverSchema = z
  .object({
    name: z.string(),
    description: z.string(),
    options: z.record(z.string(), z.unknown()).openapi({ description: "The options as JSON Schema." }),
  })
  .openapi("DiscoveryDriver");
