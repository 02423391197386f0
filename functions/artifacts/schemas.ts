/**
 * Boot artifacts (`/boot/v1/artifacts`): the kernels, initrds, images and
 * iPXE binaries nodes boot from, each known by its name and its SHA-256.
 * The single source for request validation, answer types and the OpenAPI
 * document. Content never changes under a name: a new build is a new
 * artifact, so anything that names one (boot parameters, an edge's cache)
 * can keep its digest, size and origin without asking again.
 */
import { z } from "@hono/zod-openapi";
import { checkUri, URI_MAX } from "../boot/text";
import { SHA256_PATTERN } from "./values";

export { SHA256_PATTERN };

export const ARTIFACTS_API_VERSION = "boot/v1";
export const ARTIFACT_KIND = "Artifact";
export const ARTIFACTS_PATH = "/boot/v1/artifacts";

/** A name is the last segment of the URL nodes fetch, and a file name on an edge: no slashes. */
export const ARTIFACT_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/;
/** The largest artifact the API takes: 64 GiB (disk images for diskful nodes). */
export const MAX_ARTIFACT_SIZE = 64 * 1024 ** 3;

export const ARTIFACT_KINDS = ["kernel", "initrd", "image", "ipxe"] as const;
export type ArtifactKindName = (typeof ARTIFACT_KINDS)[number];

export const ArtifactNameSchema = z.string().regex(ARTIFACT_NAME_PATTERN, {
  message: "1–128 characters: letters, digits, '.', '_', '+' or '-', starting with a letter or digit",
});
export const Sha256Schema = z
  .string()
  .regex(SHA256_PATTERN, { message: "64 lower-case hex digits (sha256sum's output)" });

const UrlSchema = z
  .string()
  .min(1)
  .max(URI_MAX)
  .superRefine((s, ctx) => {
    if (!/^https?:\/\//i.test(s)) ctx.addIssue({ code: "custom", message: "must be an http or https URL" });
    else {
      const problem = checkUri(s);
      if (problem) ctx.addIssue({ code: "custom", message: problem });
    }
  });

const LabelsSchema = z
  .record(
    z
      .string()
      .regex(/^[A-Za-z0-9][A-Za-z0-9._/-]{0,62}$/, { message: "a label key: 1–63 letters, digits, . _ / -" }),
    z.string().max(255),
  )
  .refine((l) => Object.keys(l).length <= 32, { message: "at most 32 labels" });

export const ArtifactSchema = z
  .object({
    name: ArtifactNameSchema,
    sha256: Sha256Schema,
    size: z.number().int().min(0).max(MAX_ARTIFACT_SIZE),
    kind: z.enum(ARTIFACT_KINDS),
    labels: z.record(z.string(), z.string()),
    url: z.string().nullable().openapi({
      description:
        "Where the content lives when it was registered by URL; null: uploaded to the control plane.",
    }),
    stored: z.boolean().openapi({
      description:
        "Whether the control plane holds the content (uploaded). An artifact registered by URL is served from there.",
    }),
  })
  .openapi("ArtifactSpec");
export type Artifact = z.infer<typeof ArtifactSchema>;

export const ArtifactCreateSchema = z
  .strictObject({
    name: ArtifactNameSchema.openapi({ example: "vmlinuz-6.1.0-compute" }),
    sha256: Sha256Schema.openapi({
      example: "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03",
    }),
    size: z.number().int().min(0).max(MAX_ARTIFACT_SIZE).openapi({ example: 12_345_678 }),
    kind: z.enum(ARTIFACT_KINDS).openapi({ example: "kernel" }),
    labels: LabelsSchema.optional().openapi({ example: { site: "rack1" } }),
    url: UrlSchema.optional().openapi({
      description:
        "Register content that already lives on a web or S3-compatible server. Without it, upload the content with PUT /boot/v1/artifacts/{name}/content.",
      example: "http://images.example/compute/vmlinuz-6.1.0",
    }),
  })
  .openapi("ArtifactCreate");
export type ArtifactCreate = z.infer<typeof ArtifactCreateSchema>;

/**
 * An artifact as boot parameters name it. Written as `{artifact: "<name or
 * sha256>"}`; stored and answered with the digest, size and origin it was
 * resolved to, so that the script, and an edge that caches the bytes, need
 * nothing else. `url` null: the control plane holds the content.
 */
export const ArtifactRefSchema = z
  .object({
    artifact: ArtifactNameSchema,
    sha256: Sha256Schema,
    size: z.number().int().min(0),
    url: z.string().nullable(),
  })
  .openapi("ArtifactRef");
export type ArtifactRef = z.infer<typeof ArtifactRefSchema>;

/** What a write says: the name or digest; the rest, if given (a GET sent back), must match. */
export const ArtifactRefInputSchema = z
  .strictObject({
    artifact: z.string().min(1).max(128).openapi({ description: "The artifact's name or its sha256" }),
    sha256: Sha256Schema.optional(),
    size: z.number().int().min(0).optional(),
    url: z.string().nullable().optional(),
  })
  .openapi("ArtifactRefInput");
export type ArtifactRefInput = z.infer<typeof ArtifactRefInputSchema>;

/** Where nodes fetch an artifact from a server that holds it: content-addressed, named for the console. */
export const artifactPath = (ref: { sha256: string; artifact: string }) =>
  `${ARTIFACTS_PATH}/${ref.sha256}/${ref.artifact}`;
