/**
 * Registering, listing, reading and deleting artifacts. An artifact is
 * registered by URL (its bytes stay where they are) or registered for an
 * upload (./upload.ts); either way its name, digest and size are fixed.
 */
import type { RouteHandler } from "@hono/zod-openapi";
import { type ListSpec, listQuerySchema, oneOf } from "../../shared/list-query";
import { notFound } from "../../shared/problem";
import type { AppEnv } from "../env";
import { defineRoute, json, jsonBody, problems } from "../route";
import { ArtifactKeyParam, ArtifactListSchema, ArtifactResourceSchema, answer, KIND, tags } from "./answer";
import { ARTIFACT_KINDS, ARTIFACTS_PATH, ArtifactCreateSchema, ArtifactSchema } from "./schemas";

/** `key=value`, as `?label=` takes it. */
function labelFilter(raw: string): string {
  if (!/^[^=]+=.*$/.test(raw)) throw new Error("must be key=value");
  return raw;
}

export const artifactListSpec: ListSpec = {
  filters: {
    name: { description: "Artifact name" },
    sha256: { description: "Content digest" },
    kind: { description: "kernel, initrd, image or ipxe", parse: oneOf(ARTIFACT_KINDS) },
    label: {
      description: "A label, as key=value (an edge mirrors those labelled site=<its site>)",
      parse: labelFilter,
    },
  },
  sortable: ["name", "kind", "size", "createdAt", "updatedAt"],
  fields: Object.keys(ArtifactSchema.shape),
  defaultSort: "name",
};

export const listArtifactsRoute = defineRoute("read:artifacts", {
  method: "get",
  path: ARTIFACTS_PATH,
  tags,
  summary: "List boot artifacts",
  request: { query: listQuerySchema(artifactListSpec) },
  responses: { 200: json(ArtifactListSchema, "A page of artifacts") },
});

export const listArtifacts: RouteHandler<typeof listArtifactsRoute, AppEnv> = (c) =>
  answer.list(c, KIND, artifactListSpec, (q) => c.var.stores.artifacts.list(q));

export const createArtifactRoute = defineRoute("write:artifacts", {
  method: "post",
  path: ARTIFACTS_PATH,
  tags,
  summary: "Register a boot artifact",
  description:
    "With `url`: the content stays on that web or S3-compatible server, and edges fetch it from there (verified against `sha256` and `size`). Without: upload the content next with `PUT /boot/v1/artifacts/{name}/content`; until then boot parameters cannot name it. Names and digests are unique (409): a new build is a new artifact.",
  request: { body: jsonBody(ArtifactCreateSchema) },
  responses: { 201: json(ArtifactResourceSchema, "Registered; Location set"), ...problems(409, 422) },
});

export const createArtifact: RouteHandler<typeof createArtifactRoute, AppEnv> = async (c) => {
  const a = c.req.valid("json");
  const row = await c.var.stores.artifacts.create({
    name: a.name,
    sha256: a.sha256,
    size: a.size,
    kind: a.kind,
    labels: a.labels ?? {},
    url: a.url ?? null,
    stored: false,
  });
  return answer.one(c, KIND, row, 201);
};

export const getArtifactRoute = defineRoute("read:artifacts", {
  method: "get",
  path: `${ARTIFACTS_PATH}/{key}`,
  tags,
  summary: "Get a boot artifact by name or sha256",
  request: { params: ArtifactKeyParam },
  responses: { 200: json(ArtifactResourceSchema, "The artifact"), ...problems(404) },
});

export const getArtifact: RouteHandler<typeof getArtifactRoute, AppEnv> = async (c) => {
  const { key } = c.req.valid("param");
  const row = await c.var.stores.artifacts.get(key);
  if (!row) throw notFound("artifact", key);
  return answer.one(c, KIND, row);
};

export const deleteArtifactRoute = defineRoute("delete:artifacts", {
  method: "delete",
  path: `${ARTIFACTS_PATH}/{key}`,
  tags,
  summary: "Delete a boot artifact",
  description:
    "Refused (409, naming them) while boot parameters name it. Uploaded content is removed from the control plane's store; edges drop their copies when they next need the space.",
  request: { params: ArtifactKeyParam },
  responses: { 204: { description: "Deleted" }, ...problems(404, 409) },
});

export const deleteArtifact: RouteHandler<typeof deleteArtifactRoute, AppEnv> = async (c) => {
  const { key } = c.req.valid("param");
  const gone = await c.var.stores.artifacts.delete(key);
  const files = c.var.deps.artifacts?.files;
  // After the row: content without a row is only space, a row without content would be served broken.
  if (gone.spec.stored && files && "delete" in files) await files.delete(gone.spec.sha256);
  return c.body(null, 204);
};
