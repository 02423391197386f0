import { z } from "@hono/zod-openapi";
import { listSchema, resourceSchema } from "../../shared/envelope";
import { answers } from "../answer";
import {
  ARTIFACT_KIND,
  ARTIFACTS_API_VERSION,
  ArtifactNameSchema,
  ArtifactSchema,
  Sha256Schema,
} from "./schemas";

/** Artifact answers: envelopes with `apiVersion: boot/v1`, the artifact's name as their id. */
export const answer = answers(ARTIFACTS_API_VERSION);
export const KIND = ARTIFACT_KIND;
export const tags = ["artifacts"];

export const ArtifactResourceSchema = resourceSchema(KIND, ArtifactSchema);
export const ArtifactListSchema = listSchema(KIND, ArtifactSchema.partial());

/** `{key}`: an artifact's name or its sha256. */
export const ArtifactKeyParam = z.object({
  key: z
    .union([ArtifactNameSchema, Sha256Schema])
    .openapi({ param: { name: "key", in: "path" }, example: "vmlinuz-6.1.0-compute" }),
});

export const ArtifactNameParam = z.object({
  name: ArtifactNameSchema.openapi({ param: { name: "name", in: "path" }, example: "vmlinuz-6.1.0-compute" }),
});
