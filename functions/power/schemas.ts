/**
 * Power control schemas (PCS, `/power/v1`): BMC endpoints, transitions with
 * their per-node tasks, power status and the convenience actions. The
 * single source for request validation, response types and the OpenAPI
 * document. Operations and states are OpenCHAMI PCS's.
 */
import { z } from "@hono/zod-openapi";
import { IdSchema } from "../inventory/schemas";

/** `apiVersion` of every power resource. */
export const POWER_API_VERSION = "power/v1";
export const BMC_KIND = "BmcEndpoint";
export const TRANSITION_KIND = "Transition";
export const POWER_STATUS_KIND = "PowerStatus";

import {
  FINAL_TASK_STATES,
  FINAL_TRANSITION_STATES,
  POWER_OPERATIONS,
  POWER_STATES,
  type PowerOperation,
  type PowerState,
  TASK_STATES,
  type TaskState,
  TRANSITION_STATES,
  type TransitionState,
} from "./values";

export {
  FINAL_TASK_STATES,
  FINAL_TRANSITION_STATES,
  POWER_OPERATIONS,
  POWER_STATES,
  type PowerOperation,
  type PowerState,
  TASK_STATES,
  type TaskState,
  TRANSITION_STATES,
  type TransitionState,
};

export const OperationSchema = z.enum(POWER_OPERATIONS).openapi({
  description:
    "on, off (ForceOff, or GracefulShutdown where that is all the BMC offers), soft-off (GracefulShutdown), soft-restart (GracefulRestart), hard-restart (ForceRestart or PowerCycle, else off then on), init (off then on), force-off (ForceOff only).",
});

// ---------- BMC endpoints ----------

/** `https://host[:port]`, `http://host:port`, or a bare `host[:port]` (https assumed). */
export const ADDRESS_RULE = "an http(s) URL or host[:port] (https is assumed), without credentials";

/** The address as stored: the URL's origin; undefined when it is not one. */
export function normalizeAddress(raw: string): string | undefined {
  const s = raw.trim();
  if (s === "" || /\s/.test(s)) return undefined;
  let url: URL;
  try {
    url = new URL(/^[a-z][a-z0-9+.-]*:\/\//i.test(s) ? s : `https://${s}`);
  } catch {
    return undefined;
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return undefined;
  if (url.username || url.password || url.hostname === "") return undefined;
  if ((url.pathname !== "/" && url.pathname !== "") || url.search || url.hash) return undefined;
  return url.origin;
}

const AddressSchema = z
  .string()
  .max(2048)
  .refine((s) => normalizeAddress(s) !== undefined, { message: `must be ${ADDRESS_RULE}` })
  .transform((s) => normalizeAddress(s)!)
  .openapi({ type: "string", example: "https://10.1.3.17", description: `The BMC: ${ADDRESS_RULE}.` });

const SiteSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/, "1–63 letters, digits, '.', '_' or '-'")
  .openapi({ example: "east" });

export const BmcEndpointSchema = z
  .object({
    id: IdSchema.openapi({ example: "x1000c0s0b0", description: "The BMC's component id (a NodeBMC)." }),
    address: z.string().openapi({ example: "https://10.1.3.17" }),
    credentialId: IdSchema.openapi({
      example: "bmc-east",
      description: "A device credential (/auth/v1/credentials).",
    }),
    auth: z.enum(["basic", "session"]),
    insecure: z.boolean(),
    site: z.string().nullable(),
  })
  .openapi("BmcEndpointSpec");
export type BmcEndpoint = z.infer<typeof BmcEndpointSchema>;

const bmcWritable = {
  address: AddressSchema,
  credentialId: IdSchema.openapi({
    example: "bmc-east",
    description: "Id of a device credential (/auth/v1/credentials) holding the BMC's user name and password.",
  }),
  auth: z
    .enum(["basic", "session"])
    .nullish()
    .openapi({ description: "basic (default): HTTP Basic on every request; session: a Redfish session." }),
  insecure: z
    .boolean()
    .nullish()
    .openapi({ description: "true: accept any TLS certificate from this BMC. Default false." }),
  site: SiteSchema.nullish().openapi({
    description: "The edge site that can reach this BMC; null or absent: the control plane's own agent.",
  }),
};

export const BmcEndpointCreateSchema = z
  .strictObject({
    id: IdSchema.openapi({
      example: "x1000c0s0b0",
      description: "The BMC's component id: a NodeBMC that exists in the inventory.",
    }),
    ...bmcWritable,
  })
  .openapi("BmcEndpointCreate");
export type BmcEndpointCreate = z.infer<typeof BmcEndpointCreateSchema>;

export const BmcEndpointReplaceSchema = z
  .strictObject({
    id: IdSchema.optional().openapi({ description: "If given, must equal the path id." }),
    ...bmcWritable,
  })
  .openapi("BmcEndpointReplace");
export type BmcEndpointReplace = z.infer<typeof BmcEndpointReplaceSchema>;

/** JSON Merge Patch (RFC 7396): absent = keep, null = reset to the default. */
export const BmcEndpointPatchSchema = z
  .strictObject({
    id: IdSchema.optional().openapi({ description: "If given, must equal the path id (ids do not change)." }),
    address: AddressSchema.optional(),
    credentialId: bmcWritable.credentialId.optional(),
    auth: bmcWritable.auth,
    insecure: bmcWritable.insecure,
    site: bmcWritable.site,
  })
  .openapi("BmcEndpointPatch");
export type BmcEndpointPatch = z.infer<typeof BmcEndpointPatchSchema>;

// ---------- transitions ----------

/** Fractions allowed (0.5 = 30 s); PCS's default is 5. */
export const DEADLINE_MIN = 0.01;
export const DEADLINE_MAX = 1440;
export const DEFAULT_DEADLINE_MINUTES = 5;

const DeadlineSchema = z
  .number()
  .min(DEADLINE_MIN)
  .max(DEADLINE_MAX)
  .openapi({
    example: 5,
    description: `How long each Reset may take to show in the node's PowerState, in minutes (${DEADLINE_MIN}–${DEADLINE_MAX}, fractions allowed; default ${DEFAULT_DEADLINE_MINUTES}). A task that misses it fails.`,
  });

const LocationSchema = z
  .array(z.strictObject({ xname: IdSchema }).openapi("PowerLocation"))
  .max(100_000)
  .openapi({ description: "The nodes, as PCS spells them: `[{xname}]`." });

const GroupNameSchema = IdSchema.openapi({
  example: "compute",
  description: "An inventory group (/hsm/v2/groups) whose members are added to the nodes.",
});

const DryRunSchema = z.boolean().optional().openapi({
  description:
    "true: resolve every node's BMC endpoint and credential and record the tasks as `planned`, without contacting any BMC.",
});

export const TransitionCreateSchema = z
  .strictObject({
    operation: OperationSchema,
    taskDeadlineMinutes: DeadlineSchema.optional(),
    location: LocationSchema.optional(),
    group: GroupNameSchema.optional(),
    dryRun: DryRunSchema,
  })
  .openapi("TransitionCreate");
export type TransitionCreate = z.infer<typeof TransitionCreateSchema>;

/** The body of the convenience actions (`/power/v1/actions/on` …). */
export const PowerActionSchema = z
  .strictObject({
    nodes: z
      .array(IdSchema)
      .max(100_000)
      .optional()
      .openapi({ example: ["x1000c0s0b0n0"] }),
    group: GroupNameSchema.optional(),
    dryRun: DryRunSchema,
    taskDeadlineMinutes: DeadlineSchema.optional(),
  })
  .openapi("PowerAction");
export type PowerAction = z.infer<typeof PowerActionSchema>;

export const TaskSchema = z
  .object({
    id: z.string().openapi({ format: "uuid" }),
    xname: IdSchema,
    bmcId: z.string().nullable().openapi({ description: "The node's BMC, when one was found." }),
    state: z.enum(TASK_STATES),
    message: z.string().openapi({ example: "ForceOff: Off" }),
    powerState: z
      .string()
      .nullable()
      .openapi({ example: "Off", description: "The last PowerState read from the BMC." }),
    site: z
      .string()
      .nullable()
      .openapi({ description: "The edge site that runs it; null: the control plane." }),
    updatedAt: z.string().openapi({ format: "date-time" }),
  })
  .openapi("PowerTask");
export type Task = z.infer<typeof TaskSchema>;

const countsShape = Object.fromEntries(TASK_STATES.map((s) => [s, z.number().int()])) as Record<
  TaskState,
  z.ZodNumber
>;
export const TaskCountsSchema = z
  .object({ total: z.number().int(), ...countsShape })
  .openapi("PowerTaskCounts");
export type TaskCounts = z.infer<typeof TaskCountsSchema>;

export const TransitionSchema = z
  .object({
    id: z.string().openapi({ format: "uuid" }),
    operation: z.enum(POWER_OPERATIONS),
    taskDeadlineMinutes: z.number(),
    state: z.enum(TRANSITION_STATES),
    dryRun: z.boolean(),
    requestedBy: z.string().openapi({ description: "The subject of the token that asked." }),
    completedAt: z.string().nullable().openapi({ format: "date-time" }),
    taskCounts: TaskCountsSchema,
    tasks: z
      .array(TaskSchema)
      .optional()
      .openapi({ description: "Per-node results, in the order asked (single GET and creation only)." }),
  })
  .openapi("TransitionSpec");
export type Transition = z.infer<typeof TransitionSchema>;

// ---------- power status ----------

export const PowerStatusSchema = z
  .object({
    xname: IdSchema,
    powerState: z.enum(POWER_STATES),
    source: z.enum(["task", "inventory", "none"]).openapi({
      description:
        "task: the PowerState the last power task read from the BMC; inventory: the component's state (On, Ready → on; Off → off), when newer; none: neither says.",
    }),
    inventoryState: z.string().openapi({ example: "Ready" }),
    bmcId: z
      .string()
      .nullable()
      .openapi({ description: "The node's BMC when it has an endpoint (managementState available)." }),
    managementState: z.enum(["available", "unavailable"]),
    lastUpdated: z.string().nullable().openapi({ format: "date-time" }),
    lastTask: z
      .object({
        transitionId: z.string(),
        operation: z.string(),
        state: z.enum(TASK_STATES),
        message: z.string(),
      })
      .nullable(),
  })
  .openapi("PowerStatus");
export type PowerStatus = z.infer<typeof PowerStatusSchema>;
