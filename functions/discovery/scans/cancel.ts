import type { RouteHandler } from "@hono/zod-openapi";
import { toResource } from "../../../shared/envelope";
import type { AppEnv } from "../../env";
import { defineRoute, json, problems } from "../../route";
import { DISCOVERY_API_VERSION } from "../schemas";
import { BASE, discoverySettingsOf, KIND, ScanIdParam, ScanResourceSchema, tags } from "./answer";

export const cancelScanRoute = defineRoute("write:discovery", {
  method: "delete",
  path: `${BASE}/{id}`,
  tags,
  summary: "Cancel a discovery scan",
  description:
    "The scan ends `cancelled` at once; a running scan stops before its next address (what it already merged stays). 409 when the scan is already completed, failed or cancelled.",
  request: { params: ScanIdParam },
  responses: { 202: json(ScanResourceSchema, "Cancelled: the scan as it is now"), ...problems(404, 409) },
});

export const cancelScan: RouteHandler<typeof cancelScanRoute, AppEnv> = async (c) => {
  const row = await c.var.stores.discovery.cancelScan(c.req.valid("param").id);
  discoverySettingsOf(c.var.deps).wake?.();
  return c.json(toResource(KIND, DISCOVERY_API_VERSION, row) as never, 202);
};
