/**
 * Uploads in parts, for content larger than one request may carry (a
 * Worker takes 100 MB per request on most plans):
 *
 *   POST   /boot/v1/artifacts/{name}/uploads                         → {uploadId, partSize, parts}
 *   PUT    /boot/v1/artifacts/{name}/uploads/{uploadId}/parts/{n}    → {partNumber, etag}
 *   POST   /boot/v1/artifacts/{name}/uploads/{uploadId}/complete     {parts: [{partNumber, etag}]}
 *   DELETE /boot/v1/artifacts/{name}/uploads/{uploadId}
 *
 * Every part is `partSize` bytes but the last, which is the rest; each is
 * checked for its exact length as it streams. Completion assembles them and
 * checks the whole against the registered size and SHA-256 before anything
 * is served: a mismatch is refused (422) and nothing is kept, as with a
 * whole upload (./upload.ts).
 */
import { type RouteHandler, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { ApiError } from "../../shared/problem";
import type { AppEnv } from "../env";
import { defineRoute, json, jsonBody, problems } from "../route";
import { ArtifactResourceSchema, answer, KIND, tags } from "./answer";
import { ARTIFACTS_PATH, ArtifactNameSchema } from "./schemas";
import type { ArtifactMultipart } from "./store";
import { uploadTarget } from "./upload";

/** The part route's bodies are streamed bytes: no JSON check, no body limit. */
export const PART_PATH = /^\/boot\/v1\/artifacts\/[^/]+\/uploads\/[^/]+\/parts\/[^/]+$/;

const NameParam = ArtifactNameSchema.openapi({
  param: { name: "name", in: "path" },
  example: "rhel-9.4-disk.qcow2",
});
const UploadIdParam = z
  .string()
  .min(1)
  .max(1024)
  .openapi({ param: { name: "uploadId", in: "path" }, description: "As `POST …/uploads` answered" });
const UploadParams = z.object({ name: NameParam, uploadId: UploadIdParam });
/** R2 and S3 allow at most 10,000 parts. */
const MAX_PARTS = 10_000;

const UploadStartedSchema = z
  .object({
    uploadId: z.string(),
    partSize: z.number().int().openapi({ description: "Bytes in every part but the last" }),
    parts: z.number().int().openapi({ description: "How many parts the content takes" }),
  })
  .openapi("ArtifactUploadStarted");

const PartSchema = z
  .strictObject({
    partNumber: z.number().int().min(1).max(MAX_PARTS),
    etag: z.string().min(1).max(1024),
  })
  .openapi("ArtifactUploadedPart");

const CompleteSchema = z
  .strictObject({ parts: z.array(PartSchema).min(1).max(MAX_PARTS) })
  .openapi("ArtifactUploadComplete");

/** The artifact `name` if it takes uploaded content, and the store's multipart side. */
async function target(c: Context<AppEnv>, name: string) {
  const { files, a } = await uploadTarget(c, name);
  if (!files.multipart)
    throw new ApiError(
      "not-ready",
      `This control plane takes uploads in one request only: PUT ${ARTIFACTS_PATH}/${name}/content`,
    );
  const mp: ArtifactMultipart = files.multipart;
  return { a, mp, parts: Math.ceil(a.size / mp.partSize) };
}

export const startUploadRoute = defineRoute("write:artifacts", {
  method: "post",
  path: `${ARTIFACTS_PATH}/{name}/uploads`,
  tags,
  summary: "Start uploading an artifact's content in parts",
  description:
    "For content larger than one request may carry (a Worker takes 100 MB on most plans). Send every part with `PUT …/uploads/{uploadId}/parts/{n}` (1-based; each `partSize` bytes, the last the rest; in any order, again if one failed), then `POST …/uploads/{uploadId}/complete`. No body.",
  request: { params: z.object({ name: NameParam }) },
  responses: { 201: json(UploadStartedSchema, "Started"), ...problems(404, 409, 422) },
});

export const startUpload: RouteHandler<typeof startUploadRoute, AppEnv> = async (c) => {
  const { name } = c.req.valid("param");
  const { a, mp, parts } = await target(c, name);
  if (a.size === 0)
    throw new ApiError("validation", `artifact '${name}' is empty: PUT ${ARTIFACTS_PATH}/${name}/content`);
  if (parts > MAX_PARTS)
    throw new ApiError(
      "validation",
      `artifact '${name}' would take ${parts} parts of ${mp.partSize} bytes; at most ${MAX_PARTS} are allowed`,
    );
  const uploadId = await mp.begin(a.sha256, a.size);
  return c.json({ uploadId, partSize: mp.partSize, parts }, 201);
};

export const uploadPartRoute = defineRoute("write:artifacts", {
  method: "put",
  path: `${ARTIFACTS_PATH}/{name}/uploads/{uploadId}/parts/{partNumber}`,
  tags,
  summary: "Upload one part of an artifact's content",
  description:
    "Raw bytes (`Content-Type: application/octet-stream`): exactly `partSize` bytes, or the rest for the last part (422 otherwise, and the part is not kept). Answers the part's `etag`, which `complete` takes back.",
  request: {
    params: UploadParams.extend({
      partNumber: z.coerce
        .number()
        .int()
        .min(1)
        .max(MAX_PARTS)
        .openapi({ param: { name: "partNumber", in: "path" }, example: 1 }),
    }),
    body: {
      required: true,
      content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } },
    },
  },
  responses: {
    200: json(PartSchema, "Stored; keep the etag for completion"),
    ...problems(404, 409, 422),
  },
});

export const uploadPart: RouteHandler<typeof uploadPartRoute, AppEnv> = async (c) => {
  const { name, uploadId, partNumber } = c.req.valid("param");
  const { a, mp, parts } = await target(c, name);
  if (partNumber > parts)
    throw new ApiError(
      "validation",
      `artifact '${name}' takes ${parts} parts; there is no part ${partNumber}`,
      {
        errors: [{ field: "partNumber", message: `must be 1–${parts}` }],
      },
    );
  const length = partNumber < parts ? mp.partSize : a.size - (parts - 1) * mp.partSize;
  const ct = c.req.header("Content-Type") ?? "";
  if (!/^application\/octet-stream\b/i.test(ct))
    throw new ApiError(
      "unsupported-media-type",
      `Content-Type must be application/octet-stream; got ${ct || "none"}`,
    );
  const sent = c.req.header("Content-Length");
  if (sent !== undefined && Number(sent) !== length)
    throw new ApiError(
      "validation",
      `part ${partNumber} of '${name}' is ${length} bytes; this body is ${sent}`,
      {
        errors: [{ field: "body", message: `must be exactly ${length} bytes` }],
      },
    );
  const body = c.req.raw.body ?? new ReadableStream<Uint8Array>({ start: (s) => s.close() });
  const etag = await mp.putPart(a.sha256, uploadId, partNumber, length, body);
  return c.json({ partNumber, etag }, 200);
};

export const completeUploadRoute = defineRoute("write:artifacts", {
  method: "post",
  path: `${ARTIFACTS_PATH}/{name}/uploads/{uploadId}/complete`,
  tags,
  summary: "Finish an upload in parts",
  description:
    "Names every part with the etag its upload answered. The assembled content must be the registered `size` and `sha256` (422 otherwise, and nothing is kept: start again). Checking the digest reads the whole content back, so a large artifact takes a while.",
  request: { params: UploadParams, body: jsonBody(CompleteSchema) },
  responses: { 200: json(ArtifactResourceSchema, "Stored and verified"), ...problems(404, 409, 422) },
});

export const completeUpload: RouteHandler<typeof completeUploadRoute, AppEnv> = async (c) => {
  const { name, uploadId } = c.req.valid("param");
  const { parts: given } = c.req.valid("json");
  const { a, mp, parts } = await target(c, name);
  const byNumber = new Map(given.map((p) => [p.partNumber, p]));
  const missing = Array.from({ length: parts }, (_, i) => i + 1).filter((n) => !byNumber.has(n));
  if (byNumber.size !== given.length || given.length !== parts || missing.length > 0)
    throw new ApiError(
      "validation",
      `artifact '${name}' takes parts 1–${parts}, each named once${missing.length ? `; missing: ${missing.slice(0, 10).join(", ")}` : ""}`,
      { errors: [{ field: "parts", message: `must name parts 1–${parts} once each` }] },
    );
  await mp.complete(
    a.sha256,
    a.size,
    uploadId,
    [...byNumber.values()].sort((x, y) => x.partNumber - y.partNumber),
  );
  return answer.one(c, KIND, await c.var.stores.artifacts.markStored(name));
};

export const abortUploadRoute = defineRoute("write:artifacts", {
  method: "delete",
  path: `${ARTIFACTS_PATH}/{name}/uploads/{uploadId}`,
  tags,
  summary: "Abandon an upload in parts",
  description: "Drops the parts sent so far. Abandoned uploads are also dropped after a while (R2: 7 days).",
  request: { params: UploadParams },
  responses: { 204: { description: "Dropped (or already gone)" }, ...problems(404, 409) },
});

export const abortUpload: RouteHandler<typeof abortUploadRoute, AppEnv> = async (c) => {
  const { name, uploadId } = c.req.valid("param");
  const { a, mp } = await target(c, name);
  await mp.abort(a.sha256, uploadId);
  return c.body(null, 204);
};
