/**
 * What handlers can reach through the Hono context: the stores for this
 * request and the process-wide dependencies, both set by the entry point.
 */
import type { MiddlewareHandler } from "hono";
import type { Logger } from "../shared/log";
import type { Registry } from "../shared/metrics";
import type { Stores } from "./inventory/store";

export interface AppDeps {
  logger: Logger;
  registry: Registry;
  /** "node" or "workerd", reported by /version. */
  runtime: string;
  /**
   * Sets `c.var.stores` for the request and releases it afterwards. On Node
   * it hands out one shared pool; on Workers it opens a connection per request.
   */
  stores: MiddlewareHandler<AppEnv>;
  /**
   * Checks that the caller holds `scope`; throws ApiError 401/403 otherwise.
   * Left undefined until the auth service exists: then every route is open.
   */
  authorize?: (c: Parameters<MiddlewareHandler<AppEnv>>[0], scope: string) => Promise<void>;
}

export type AppEnv = {
  Variables: {
    stores: Stores;
    deps: AppDeps;
    requestId: string;
  };
};
