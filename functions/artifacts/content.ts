/**
 * `GET/HEAD /boot/v1/artifacts/{sha256}/{name}`: the bytes nodes boot from.
 * Public (iPXE carries no token), content-addressed (the digest is the
 * ETag, and the answer never changes), with single byte ranges for
 * resumed downloads, streamed from wherever the runtime keeps the bytes
 * (`ArtifactFiles`). The control plane and the edge answer with this one
 * handler; what a server does not hold it redirects to the origin.
 */
import { type RouteHandler, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { fileBody } from "../../shared/http/file-body";
import { ApiError } from "../../shared/problem";
import { callerOf } from "../cloud-init/caller";
import type { AppEnv } from "../env";
import { defineRoute, problems } from "../route";
import { tags } from "./answer";
import { rangeOf } from "./range";
import { ARTIFACTS_PATH, ArtifactNameSchema, Sha256Schema } from "./schemas";

const ContentParams = z.object({
  sha256: Sha256Schema.openapi({ param: { name: "sha256", in: "path" } }),
  name: ArtifactNameSchema.openapi({ param: { name: "name", in: "path" }, example: "vmlinuz-6.1.0-compute" }),
});

export const artifactContentRoute = defineRoute("public", {
  method: "get",
  path: `${ARTIFACTS_PATH}/{sha256}/{name}`,
  tags,
  summary: "Fetch an artifact's bytes (nodes, edges)",
  description:
    "Public: iPXE carries no token. The ETag is the sha256; one `Range: bytes=a-b` is answered with 206, several with the whole content. A server that does not hold the bytes redirects (302) to where they live, or answers 404. `name` is for the node's console: the digest alone says what is served.",
  request: { params: ContentParams },
  responses: {
    200: {
      description: "The content",
      content: { "application/octet-stream": { schema: z.string().openapi({ format: "binary" }) } },
    },
    206: { description: "The range asked for" },
    302: { description: "Held elsewhere: Location says where" },
    ...problems(304, 404),
    416: { description: "The range starts past the end; Content-Range says the size" },
  },
});

const IMMUTABLE = "public, max-age=31536000, immutable";

export const artifactContent: RouteHandler<typeof artifactContentRoute, AppEnv> = (async (
  c: Context<AppEnv>,
) => {
  const { sha256 } = c.req.param() as { sha256: string };
  const serving = c.var.deps.artifacts;
  const file = await serving?.files.open(sha256);
  if (!file) {
    const origin = serving?.origin
      ? serving.origin(sha256)
      : ((await c.var.stores.artifacts.get(sha256))?.spec.url ?? undefined);
    if (origin) return c.redirect(origin, 302);
    throw new ApiError("not-found", `no artifact with sha256 ${sha256} is held here`);
  }
  const etag = `"${sha256}"`;
  const headers: Record<string, string> = {
    "Content-Type": "application/octet-stream",
    "Cache-Control": IMMUTABLE,
    ETag: etag,
    "Accept-Ranges": "bytes",
  };
  const inm = c.req.header("If-None-Match");
  if (inm?.split(",").some((t) => t.trim().replace(/^W\//, "") === etag)) return c.body(null, 304, headers);
  // If-Range with another validator: the client's partial copy is of something else; send it all.
  const ifRange = c.req.header("If-Range");
  const range =
    ifRange !== undefined && ifRange !== etag
      ? { kind: "full" as const }
      : rangeOf(c.req.header("Range"), file.size);
  if (range.kind === "unsatisfiable")
    return c.body(null, 416, { ...headers, "Content-Range": `bytes */${file.size}` });
  const [start, end, status] =
    range.kind === "partial" ? [range.start, range.end, 206 as const] : [0, file.size, 200 as const];
  headers["Content-Length"] = String(end - start);
  if (status === 206) headers["Content-Range"] = `bytes ${start}-${end - 1}/${file.size}`;
  if (c.req.method === "HEAD") return c.body(null, status, headers);
  if (start === 0) await recordFetch(c);
  return new Response(fileBody(await file.read(start, end), c.var.deps.runtime), { status, headers });
}) as never;

/**
 * The `artifacts` stage of the node fetching, found by its address as for
 * cloud-init. A caller that is no node (an edge filling its cache, an
 * operator's curl) records nothing, and recording never fails the fetch.
 */
async function recordFetch(c: Context<AppEnv>) {
  const address = callerOf(c);
  if (address === undefined) return;
  const ids = await c.var.stores.cloudInit.componentsWithAddress(address).catch(() => []);
  if (ids.length !== 1) return;
  const seen = { node: ids[0]!, stage: "artifacts" as const, address };
  const observer = c.var.deps.progress;
  if (observer) return observer.seen(seen);
  const at = new Date();
  await c.var.stores.progress
    .record(null, [{ ...seen, at, edgeAt: at, retry: null }])
    .catch((e: Error) => c.var.deps.logger.warn("recording an artifact fetch failed", { err: e.message }));
}
