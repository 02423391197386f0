/**
 * Air-gap bundles (`/events/v1/bundle`): the snapshot, or the changes after
 * a position, as one signed file an operator carries to an edge no network
 * reaches (./format.ts, docs/air-gapped.md), and the public keys an edge
 * trusts them by. `chamicore export` calls these.
 */
import { type OpenAPIHono, type RouteHandler, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import type { AppEnv } from "../env";
import { defineRoute, json, problems } from "../route";
import { buildBundle } from "./build";
import { detachedSignature } from "./sign";

const tags = ["events"];

const BundleQuery = z.strictObject({
  since: z.coerce
    .number()
    .int()
    .min(0)
    .optional()
    .openapi({ description: "The changes after this position (the edge's); absent: a full snapshot" }),
  artifacts: z
    .enum(["true", "false"])
    .default("true")
    .optional()
    .openapi({ description: "Carry the boot files the included boot parameters name (default true)" }),
});

const bundle = defineRoute("read:feed", {
  method: "get",
  path: "/events/v1/bundle",
  tags,
  summary: "A signed bundle of the boot read model, to carry to an edge by hand",
  description:
    "A gzipped tar: `manifest.json` (source, position, counts, every member's size and SHA-256), `manifest.sig` (a detached JWS by the bundle key, see /events/v1/bundle/keys), then the snapshot's resources as NDJSON, or with `since` the change events after that position, then the artifacts the boot parameters name. Streamed as it is made. 410 when events after `since` were pruned, 409 when `since` is ahead of this control plane.",
  request: { query: BundleQuery },
  responses: {
    200: {
      description: "The bundle (`chamicore edge import` reads it)",
      content: { "application/gzip": { schema: z.string().openapi({ format: "binary" }) } },
    },
    ...problems(409, 410),
  },
});

const bundleHandler: RouteHandler<typeof bundle, AppEnv> = (async (c: Context<AppEnv>) => {
  // Checked by the route already; read again typed (a raw Response answer leaves the handler untyped).
  const { since, artifacts } = BundleQuery.parse(c.req.query());
  const { bundleKeyring } = c.var.deps.auth;
  const signer = await bundleKeyring.signingKey(c.var.stores.auth.bundleKeys);
  const { manifest, body } = await buildBundle(
    {
      feed: c.var.stores.feed,
      files: c.var.deps.artifacts?.files,
      sign: (bytes) => detachedSignature(bytes, signer),
    },
    { since, artifacts: artifacts !== "false" },
  );
  const name = `chamicore-${manifest.kind}-${manifest.source.slice(0, 8)}-${manifest.position}.tar.gz`;
  return new Response(body, {
    status: 200,
    headers: {
      "Content-Type": "application/gzip",
      "Content-Disposition": `attachment; filename="${name}"`,
      "Cache-Control": "no-store",
      "X-Chamicore-Bundle-Kind": manifest.kind,
      "X-Chamicore-Bundle-Position": String(manifest.position),
      "X-Chamicore-Bundle-Source": manifest.source,
    },
  });
}) as never;

const BundleKeysSchema = z
  .object({
    keys: z.array(z.record(z.string(), z.unknown())).openapi({
      description: "Public JWKs (kid, alg): the active bundle key first, then retired ones still listed",
    }),
  })
  .openapi("BundleKeys");

const keys = defineRoute("read:feed", {
  method: "get",
  path: "/events/v1/bundle/keys",
  tags,
  summary: "The public keys bundles are signed with, for an edge's CHAMICORE_EDGE_TRUSTED_KEYS",
  description:
    "A JWKS. The bundle key is made on first use and rotated with `chamicore auth rotate-keys --bundle`; it never signs tokens, and the token keys never sign bundles.",
  responses: { 200: json(BundleKeysSchema, "The bundle keys") },
});

const keysHandler: RouteHandler<typeof keys, AppEnv> = async (c) => {
  const { bundleKeyring } = c.var.deps.auth;
  await bundleKeyring.signingKey(c.var.stores.auth.bundleKeys);
  return c.json(await bundleKeyring.jwks(c.var.stores.auth.bundleKeys), 200);
};

export function registerBundles(app: OpenAPIHono<AppEnv>) {
  app.openapi(keys, keysHandler);
  app.openapi(bundle, bundleHandler);
}
