/**
 * cloud-init payload schemas: the single source for request validation,
 * response types and the OpenAPI document.
 */
import { z } from "@hono/zod-openapi";
import { RoleSchema } from "../../shared/enums";
import { IdSchema } from "../inventory/schemas";

/** `apiVersion` of every cloud-init resource. */
export const CLOUD_INIT_API_VERSION = "cloud-init/v1";
export const PAYLOAD_KIND = "Payload";

/**
 * The three document names of the NoCloud data source. A payload may not be
 * called by one of them: `GET /cloud-init/payloads/user-data` must mean the
 * user-data of component `payloads`, never the payload `user-data`.
 */
export const DOCUMENTS = ["user-data", "meta-data", "vendor-data"] as const;
export type DocumentName = (typeof DOCUMENTS)[number];

export const PayloadIdSchema = IdSchema.refine((id) => !(DOCUMENTS as readonly string[]).includes(id), {
  message: `cannot be ${DOCUMENTS.join(", ")} (those names are the serving paths)`,
}).openapi({ example: "payload-compute" });

const USER_DATA_RULE =
  "Must start with a cloud-init header: `#cloud-config` (the rest must be a YAML mapping), `#!` (a script), `#include`, `#include-once`, `#cloud-boothook`, `#part-handler`, `#cloud-config-archive` (a YAML list), `## template: jinja` (followed by another header) or a MIME multipart message (`Content-Type: multipart/…` with `MIME-Version:`).";

const UserDataSchema = z.string().max(512 * 1024);
const MetaDataSchema = z
  .record(z.string(), z.unknown())
  .openapi({ type: "object", additionalProperties: true, example: { "local-hostname": "cn001" } });

export const PayloadSchema = z
  .object({
    id: z.string(),
    componentId: z.string().nullable(),
    group: z.string().nullable(),
    role: RoleSchema.nullable(),
    userData: z.string().nullable(),
    metaData: z.record(z.string(), z.unknown()).nullable(),
    vendorData: z.string().nullable(),
    bindToAddress: z.boolean(),
  })
  .openapi("PayloadSpec");
export type Payload = z.infer<typeof PayloadSchema>;

const target = {
  componentId: IdSchema.nullish().openapi({ description: "Target: a component (it must exist)." }),
  group: IdSchema.nullish().openapi({ description: "Target: a group's name (it must exist)." }),
  role: RoleSchema.nullish().openapi({ description: "Target: every component with this role." }),
};

const writable = {
  userData: UserDataSchema.nullish().openapi({ description: `user-data. ${USER_DATA_RULE}` }),
  metaData: MetaDataSchema.nullish().openapi({
    description: "meta-data keys merged into what the node is served (a JSON object).",
  }),
  vendorData: UserDataSchema.nullish().openapi({ description: `vendor-data. ${USER_DATA_RULE}` }),
  bindToAddress: z.boolean().nullish().openapi({
    description: "Serve this payload only to a caller whose address is one of the node's own. Default false.",
  }),
};

export const PayloadCreateSchema = z
  .strictObject({
    id: PayloadIdSchema.optional().openapi({
      description: "Default: `payload-<16 hex>`. On PUT, if given, must equal the path id.",
    }),
    ...target,
    ...writable,
  })
  .openapi("PayloadCreate", {
    description: "Exactly one of `componentId`, `group`, `role` names the target; one payload per target.",
  });
export type PayloadCreate = z.infer<typeof PayloadCreateSchema>;

/**
 * JSON Merge Patch (RFC 7396): absent = keep, null = remove (bindToAddress:
 * back to false). `metaData` is patched key by key, as the RFC says for objects.
 */
export const PayloadPatchSchema = z
  .strictObject({
    id: PayloadIdSchema.optional().openapi({ description: "If given, must equal the path id." }),
    ...target,
    ...writable,
  })
  .openapi("PayloadPatch");
export type PayloadPatch = z.infer<typeof PayloadPatchSchema>;
