/**
 * The resource envelope every JSON resource travels in:
 * `{kind, apiVersion, metadata: {id, etag, createdAt, updatedAt}, spec}`,
 * and lists `{kind: "<Kind>List", apiVersion, metadata: {total, limit, offset}, items}`.
 */
import { z } from "@hono/zod-openapi";

export const ResourceMetadataSchema = z
  .object({
    id: z.string(),
    etag: z.string().openapi({ description: "Opaque version tag; send it back in If-Match." }),
    createdAt: z.string().openapi({ format: "date-time" }),
    updatedAt: z.string().openapi({ format: "date-time" }),
  })
  .openapi("ResourceMetadata");

export const ListMetadataSchema = z
  .object({
    total: z.number().int().openapi({ description: "Matching items across all pages." }),
    limit: z.number().int(),
    offset: z.number().int(),
  })
  .openapi("ListMetadata");

/** A stored row as stores hand it to handlers: the spec plus its bookkeeping. */
export interface Stored<T> {
  id: string;
  etag: string;
  createdAt: Date;
  updatedAt: Date;
  spec: T;
}

export interface Resource<T> {
  kind: string;
  apiVersion: string;
  metadata: { id: string; etag: string; createdAt: string; updatedAt: string };
  spec: T;
}

export interface ResourceList<T> {
  kind: string;
  apiVersion: string;
  metadata: { total: number; limit: number; offset: number };
  items: Resource<T>[];
}

/** The envelope schema of one kind, for OpenAPI and for the typed client. */
export function resourceSchema<S extends z.ZodType>(kind: string, spec: S) {
  return z
    .object({
      kind: z.literal(kind),
      apiVersion: z.string(),
      metadata: ResourceMetadataSchema,
      spec,
    })
    .openapi(kind);
}

export function listSchema<S extends z.ZodType>(kind: string, spec: S) {
  return z
    .object({
      kind: z.literal(`${kind}List`),
      apiVersion: z.string(),
      metadata: ListMetadataSchema,
      items: z.array(
        z.object({
          kind: z.literal(kind),
          apiVersion: z.string(),
          metadata: ResourceMetadataSchema,
          spec: spec,
        }),
      ),
    })
    .openapi(`${kind}List`);
}

/**
 * A small collection answered whole, not paged (roles, policies, keys,
 * revocations): `{kind: "<Kind>List", apiVersion, metadata: {total}, items}`
 * where items are whatever the collection holds.
 */
export function collectionSchema<S extends z.ZodType>(kind: string, item: S) {
  return z
    .object({
      kind: z.literal(`${kind}List`),
      apiVersion: z.string(),
      metadata: z.object({ total: z.number().int() }),
      items: z.array(item),
    })
    .openapi(`${kind}List`);
}

export function toResource<T>(kind: string, apiVersion: string, row: Stored<T>): Resource<T> {
  return {
    kind,
    apiVersion,
    metadata: {
      id: row.id,
      etag: row.etag,
      createdAt: row.createdAt.toISOString(),
      updatedAt: row.updatedAt.toISOString(),
    },
    spec: row.spec,
  };
}

export function toList<T>(
  kind: string,
  apiVersion: string,
  rows: Stored<T>[],
  page: { total: number; limit: number; offset: number },
  fields?: readonly string[],
): ResourceList<T> {
  return {
    kind: `${kind}List`,
    apiVersion,
    metadata: page,
    items: rows.map((r) => {
      const res = toResource(kind, apiVersion, r);
      if (fields) res.spec = pick(res.spec as Record<string, unknown>, fields) as T;
      return res;
    }),
  };
}

function pick(o: Record<string, unknown>, keys: readonly string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const k of keys) if (k in o) out[k] = o[k];
  return out;
}

/** HTTP entity tag for a stored etag value (strong; the value is opaque). */
export const httpEtag = (etag: string) => `"${etag}"`;
