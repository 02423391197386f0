/**
 * `PUT /boot/v1/artifacts/{name}/content`: the bytes of an artifact
 * registered without a URL, streamed into the control plane's store and
 * verified on the way (size and SHA-256); never held in memory. Refused
 * content leaves nothing behind, and the artifact stays unusable until an
 * upload matches.
 */
import { type RouteHandler, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { ApiError, notFound } from "../../shared/problem";
import type { AppEnv } from "../env";
import { defineRoute, json, problems } from "../route";
import { ArtifactNameParam, ArtifactResourceSchema, answer, KIND, tags } from "./answer";
import { ARTIFACTS_PATH } from "./schemas";

export const UPLOAD_PATH = /^\/boot\/v1\/artifacts\/[^/]+\/content$/;

/**
 * The store uploads go to and the artifact `name`, when it takes uploaded
 * content: 503 without a store, 404 when absent, 409 when registered by URL.
 */
export async function uploadTarget(c: Context<AppEnv>, name: string) {
  const files = c.var.deps.artifacts?.files;
  if (!files || !("put" in files))
    throw new ApiError(
      "not-ready",
      "This control plane has nowhere to keep uploaded artifacts (on Workers, bind an R2 bucket as ARTIFACTS); register the artifact by URL instead",
    );
  const row = await c.var.stores.artifacts.get(name);
  if (!row || row.spec.name !== name) throw notFound("artifact", name);
  const a = row.spec;
  if (a.url !== null)
    throw new ApiError(
      "conflict",
      `artifact '${name}' is registered by URL (${a.url}); its content stays there`,
    );
  return { files, a };
}

export const uploadArtifactRoute = defineRoute("write:artifacts", {
  method: "put",
  path: `${ARTIFACTS_PATH}/{name}/content`,
  tags,
  summary: "Upload the content of a registered artifact",
  description:
    "The raw bytes (`Content-Type: application/octet-stream`), exactly the registered `size` with the registered `sha256` (422 otherwise, and nothing is kept). Sending the same bytes again is harmless. `chamicore bss artifacts upload` registers and uploads in one step.",
  request: {
    params: ArtifactNameParam,
    body: {
      required: true,
      content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } },
    },
  },
  responses: { 200: json(ArtifactResourceSchema, "Stored and verified"), ...problems(404, 409, 422, 503) },
});

export const uploadArtifact: RouteHandler<typeof uploadArtifactRoute, AppEnv> = async (c) => {
  const { name } = c.req.valid("param");
  const { files, a } = await uploadTarget(c, name);
  const ct = c.req.header("Content-Type") ?? "";
  if (!/^application\/octet-stream\b/i.test(ct))
    throw new ApiError(
      "unsupported-media-type",
      `Content-Type must be application/octet-stream; got ${ct || "none"}`,
    );
  const length = c.req.header("Content-Length");
  if (length !== undefined && Number(length) !== a.size)
    throw new ApiError("validation", `artifact '${name}' is ${a.size} bytes; this body is ${length}`, {
      errors: [{ field: "body", message: `must be exactly ${a.size} bytes` }],
    });
  const body = c.req.raw.body ?? new ReadableStream<Uint8Array>({ start: (s) => s.close() });
  await files.put(a.sha256, a.size, body);
  return answer.one(c, KIND, await c.var.stores.artifacts.markStored(name));
};
