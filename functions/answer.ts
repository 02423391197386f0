/**
 * How handlers answer with resources: the envelope, the ETag header, and for
 * a creation the Location of the new resource. One place, so that every
 * service answers alike.
 */
import type { Context } from "hono";
import { httpEtag, type Stored, toList, toResource } from "../shared/envelope";
import { type ListQuery, type ListSpec, parseListQuery } from "../shared/list-query";

export function answers(apiVersion: string) {
  return {
    /** One resource with its ETag; 201 adds Location (the collection path + id). */
    one<T, S extends 200 | 201 = 200>(c: Context, kind: string, row: Stored<T>, status: S = 200 as S) {
      const headers: Record<string, string> = { ETag: httpEtag(row.etag) };
      if (status === 201) headers.Location = `${c.req.path}/${encodeURIComponent(row.id)}`;
      // The envelope is built from the same zod schemas the route documents; `never`
      // lets it stand for the route's typed response without restating the type.
      return c.json(toResource(kind, apiVersion, row) as never, status, headers);
    },

    /** A small collection, whole (see `collectionSchema`). */
    all<T>(c: Context, kind: string, items: T[], headers: Record<string, string> = {}) {
      const body = { kind: `${kind}List`, apiVersion, metadata: { total: items.length }, items };
      return c.json(body as never, 200, headers);
    },

    /** A page of a collection: parses the query by `spec`, reads it with `read`. */
    async list<T>(
      c: Context,
      kind: string,
      spec: ListSpec,
      read: (q: ListQuery) => Promise<{ rows: Stored<T>[]; total: number }>,
    ) {
      const q = parseListQuery(new URL(c.req.url).searchParams, spec);
      const page = await read(q);
      const meta = { total: page.total, limit: q.limit, offset: q.offset };
      return c.json(toList(kind, apiVersion, page.rows, meta, q.fields) as never, 200);
    },
  };
}
