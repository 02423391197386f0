/**
 * Conditional requests: If-Match for writes (412/428), the stored etag as the
 * entity tag for reads.
 */
import type { Context } from "hono";
import { ApiError, notFound } from "../problem";

/**
 * The etag the client says it last saw, unquoted; `*` ("whatever is
 * current") is passed through. Weak tags are compared by their value.
 */
export function ifMatch(c: Context, opts: { required: boolean }): string | "*" | undefined {
  const raw = c.req.header("If-Match");
  if (raw === undefined || raw.trim() === "") {
    if (opts.required)
      throw new ApiError(
        "precondition-required",
        "This write needs an If-Match header with the etag from your last read (GET the resource first)",
      );
    return undefined;
  }
  const v = raw.trim();
  if (v === "*") return "*";
  const m = /^(?:W\/)?"([^"]*)"$/.exec(v);
  return m ? m[1]! : v;
}

/**
 * Read–modify–write of one resource, guarded by its etag.
 *
 * With an If-Match from the client (`wanted`) a changed resource is a 412.
 * Without one the write is still atomic: it is guarded by the etag just read
 * and redone (up to 3 times) if another writer got in between.
 */
export async function guardedUpdate<S extends { etag: string; spec: unknown }, D = S["spec"]>(opts: {
  what: string;
  id: string;
  wanted: string | undefined;
  read: () => Promise<S | undefined>;
  /** The next spec, or a draft of it the store completes (boot params' artifacts). */
  change: (current: S["spec"]) => D;
  write: (next: D, etag: string) => Promise<S>;
}): Promise<S> {
  for (let attempt = 0; ; attempt++) {
    const current = await opts.read();
    if (!current) throw notFound(opts.what, opts.id);
    if (opts.wanted !== undefined && opts.wanted !== "*" && opts.wanted !== current.etag)
      throw new ApiError(
        "precondition-failed",
        `${opts.what} '${opts.id}' has changed since you read it (If-Match does not match)`,
      );
    try {
      return await opts.write(opts.change(current.spec), current.etag);
    } catch (e) {
      const retry =
        e instanceof ApiError && e.kind === "precondition-failed" && opts.wanted === undefined && attempt < 3;
      if (!retry) throw e;
    }
  }
}

/**
 * The etag a replace (PUT) must match: If-Match is required, and `*` stands
 * for the current etag of the resource (404 if there is none).
 */
export async function requiredIfMatch(
  c: Context,
  what: string,
  id: string,
  read: () => Promise<{ etag: string } | undefined>,
): Promise<string> {
  const tag = ifMatch(c, { required: true })!;
  if (tag !== "*") return tag;
  const current = await read();
  if (!current) throw notFound(what, id);
  return current.etag;
}
