/**
 * Boot progress and edge reports (`/boot/v1/progress`, `/boot/v1/status`,
 * `/events/v1/edges`): the single source for request validation, answer
 * types and the OpenAPI document.
 */
import { z } from "@hono/zod-openapi";
import { IdSchema } from "../inventory/schemas";

export const PROGRESS_API_VERSION = "boot/v1";
export const EDGES_API_VERSION = "events/v1";

/**
 * The stages a booting node is seen at, in the order a boot passes them:
 * its iPXE boot script, the NoCloud documents cloud-init fetches (meta-data
 * first), and cloud-init's phone_home at the end of its final stage. DHCP
 * is not among them: Kea 2.2 as shipped reports no lease events to a hook
 * the edge could read without a premium hook library.
 */
export const STAGES = [
  "bootscript",
  "artifacts",
  "meta-data",
  "user-data",
  "vendor-data",
  "phone-home",
] as const;
export type Stage = (typeof STAGES)[number];
/** The last stage of a boot: a node there is done, never stuck. */
export const DONE_STAGE: Stage = "phone-home";

export const StageSchema = z.enum(STAGES).openapi({
  description:
    "bootscript (iPXE fetched its boot script), artifacts (it started fetching a boot artifact: kernel, initrd, image), meta-data / user-data / vendor-data (cloud-init fetched that NoCloud document), phone-home (cloud-init's phone_home posted: the boot finished)",
  example: "user-data",
});

/** An edge's name, as CHAMICORE_EDGE_NAME allows it. */
export const EdgeNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}$/)
  .openapi({ example: "rack1-edge" });

export const ProgressEventSchema = z
  .strictObject({
    node: IdSchema.openapi({ description: "Component id", example: "x1000c0s0b0n0" }),
    stage: StageSchema,
    at: z.iso.datetime().openapi({ description: "When the edge saw it, by the edge's clock" }),
    retry: z
      .number()
      .int()
      .min(0)
      .max(1000)
      .nullable()
      .optional()
      .openapi({ description: "The `retry` of the node's last boot script (0: the first attempt)" }),
    address: z.string().max(64).nullable().optional().openapi({ description: "The node's address as seen" }),
  })
  .openapi("BootProgressEvent");
export type ProgressEvent = z.infer<typeof ProgressEventSchema>;

/** At most this many events per batch: 10,000 nodes are five requests, each well under the body limit. */
export const MAX_BATCH = 2000;

export const ProgressBatchSchema = z
  .strictObject({
    edge: EdgeNameSchema,
    sentAt: z.iso.datetime().openapi({
      description:
        "When the edge sent the batch, by its clock: each event's time is taken as this long before the batch arrived, so an edge's clock that is off does not shift its nodes' times",
    }),
    events: z.array(ProgressEventSchema).max(MAX_BATCH),
    dropped: z
      .number()
      .int()
      .min(0)
      .optional()
      .openapi({ description: "Events the edge has dropped since it started (its buffer was full)" }),
  })
  .openapi("BootProgressBatch");
export type ProgressBatch = z.infer<typeof ProgressBatchSchema>;

export const ProgressReceiptSchema = z
  .object({
    accepted: z.number().int().openapi({ description: "Events in the batch" }),
    applied: z
      .number()
      .int()
      .openapi({ description: "Events that moved a node forward (later than what was recorded)" }),
  })
  .openapi("BootProgressReceipt");

export const BootStatusSchema = z
  .object({
    id: z.string().openapi({ description: "Component id", example: "x1000c0s0b0n0" }),
    stage: StageSchema,
    at: z.string().openapi({ format: "date-time", description: "When the node reached it" }),
    edge: z.string().nullable().openapi({ description: "The edge that saw it; null: the control plane" }),
    retry: z.number().int().nullable().openapi({ description: "The `retry` of its last boot script" }),
    address: z.string().nullable(),
    rack: z
      .string()
      .nullable()
      .openapi({ description: "The component's rack (by default its xname cabinet)" }),
    stuckSeconds: z
      .number()
      .int()
      .nullable()
      .openapi({ description: "Seconds since it reached `stage`; null once it phoned home" }),
  })
  .openapi("BootStatus");
export type BootStatus = z.infer<typeof BootStatusSchema>;

export const StageCountsSchema = z
  .object(Object.fromEntries(STAGES.map((s) => [s, z.number().int()])) as Record<Stage, z.ZodNumber>)
  .openapi("BootStageCounts");
export type StageCounts = Record<Stage, number>;

export const BootStatusListSchema = z
  .object({
    kind: z.literal("BootStatusList"),
    apiVersion: z.string(),
    metadata: z.object({
      total: z.number().int().openapi({ description: "Matching nodes across all pages" }),
      limit: z.number().int(),
      offset: z.number().int(),
      asOf: z.string().openapi({ format: "date-time", description: "The time `stuckSeconds` count to" }),
      counts: StageCountsSchema.openapi({
        description:
          "Nodes at each stage among those the group, rack and edge filters select (the stage and stuck filters do not narrow them)",
      }),
    }),
    items: z.array(BootStatusSchema.partial()),
  })
  .openapi("BootStatusList");

/** What an edge says of itself every few seconds (its `/status`, in short). */
export const EdgeReportSchema = z
  .object({
    version: z.string().max(64),
    position: z.number().int().openapi({ description: "Outbox position its replica reflects" }),
    head: z.number().int(),
    lagEvents: z.number().int(),
    lagSeconds: z.number(),
    mode: z.string().max(32).openapi({ description: "stream (NATS) or poll (the change feed)" }),
    lastContact: z.string().nullable(),
    stalled: z.object({ since: z.string(), reason: z.string() }).nullable(),
    applyOk: z.boolean().openapi({ description: "false: its replica cannot take changes (see the edge)" }),
    kea: z
      .object({ state: z.string(), reservations: z.number().int().nullable(), problems: z.number().int() })
      .nullable()
      .openapi({ description: "Its Kea sync; null when off" }),
    progress: z
      .object({
        pending: z.number().int().openapi({ description: "Nodes whose latest stage is not sent yet" }),
        dropped: z.number().int(),
        sent: z.number().int(),
      })
      .openapi({ description: "Its boot progress buffer" }),
  })
  .openapi("EdgeReport");
export type EdgeReport = z.infer<typeof EdgeReportSchema>;

/** Reports every this many seconds; one older than STALE_AFTER_SECONDS marks the edge stale. */
export const EDGE_REPORT_SECONDS = 5;
export const STALE_AFTER_SECONDS = 30;

export const EdgeSchema = EdgeReportSchema.extend({
  name: EdgeNameSchema,
  reportedAt: z.string().openapi({ format: "date-time" }),
  stale: z.boolean().openapi({ description: `No report for over ${STALE_AFTER_SECONDS} s` }),
}).openapi("Edge");
export type Edge = z.infer<typeof EdgeSchema>;

export const EdgeListSchema = z
  .object({
    kind: z.literal("EdgeList"),
    apiVersion: z.string(),
    metadata: z.object({ total: z.number().int() }),
    items: z.array(EdgeSchema),
  })
  .openapi("EdgeList");
