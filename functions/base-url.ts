/** The base URL a service advertises in what it answers (boot scripts, discovery documents). */
import type { Context } from "hono";
import { ApiError } from "../shared/problem";
import type { AppEnv } from "./env";

/** Characters a base URL must not have to sit inside an iPXE command line and a kernel argument. */
const UNSAFE_BASE = /[\s"'#${}\\<>|^`]/;

/**
 * The base URL advertised to nodes: the configured public URL, else the
 * origin the request came to.
 */
export function baseUrlOf(c: Context<AppEnv>): string {
  return advertisedBase(c.var.deps.serving.publicUrl, c.req.url);
}

/** `baseUrlOf` from the configured public URL (if any) and the request's URL. */
export function advertisedBase(publicUrl: string | undefined, requestUrl: string): string {
  const base = (publicUrl ?? new URL(requestUrl).origin).replace(/\/+$/, "");
  if (!/^https?:\/\//.test(base) || UNSAFE_BASE.test(base))
    throw new ApiError(
      "bad-request",
      `Cannot advertise ${JSON.stringify(base)} to booting nodes; set CHAMICORE_PUBLIC_URL to the URL they reach this service at`,
    );
  return base;
}
