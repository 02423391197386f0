/**
 * Serving the shared boot and cloud-init handlers from a replica, for the
 * edge app (and the parity tests): the stores middleware and the routes, the
 * same handler modules the control plane registers.
 */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { MiddlewareHandler } from "hono";
import { etag } from "hono/etag";
import { bootScript, bootScriptRoute } from "../../functions/boot/bootscript";
import { registerServing } from "../../functions/cloud-init/serve";
import type { AppEnv } from "../../functions/env";
import type { Stores } from "../../functions/stores";
import type { Replica } from "./replica";

/**
 * Sets `c.var.stores` to the replica's read stores: `boot` and `cloudInit`
 * only (the serving handlers use nothing else); usable as `AppDeps.stores`.
 */
export function replicaStores(replica: Replica): MiddlewareHandler<AppEnv> {
  const stores = { boot: replica.boot, cloudInit: replica.cloudInit } as unknown as Stores;
  return async (c, next) => {
    c.set("stores", stores);
    await next();
  };
}

/**
 * `GET /boot/v1/bootscript` and the NoCloud documents, with the ETag the
 * control plane's `/cloud-init/*` answers carry, so that for the same data
 * the answers are the same bytes and the same headers.
 */
export function registerReplicaServing(app: OpenAPIHono<AppEnv>) {
  app.use("/cloud-init/*", etag());
  app.openapi(bootScriptRoute, bootScript);
  registerServing(app);
}
