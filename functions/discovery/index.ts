/** The discovery service (`/discovery/v1`): targets, scans and drivers. */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../env";
import { registerDiscoveryAgent } from "./agent";
import { listDrivers, listDriversRoute } from "./drivers";
import { cancelScan, cancelScanRoute } from "./scans/cancel";
import { createScanHandler, createScanRoute } from "./scans/create";
import { getScan, getScanRoute } from "./scans/get";
import { listScans, listScansRoute } from "./scans/list";
import { createTarget, createTargetRoute } from "./targets/create";
import { deleteTarget, deleteTargetRoute } from "./targets/delete";
import { getTarget, getTargetRoute } from "./targets/get";
import { listTargets, listTargetsRoute } from "./targets/list";
import { patchTarget, patchTargetRoute } from "./targets/patch";
import { replaceTarget, replaceTargetRoute } from "./targets/replace";

export type { DiscoverySettings } from "./service";

export function registerDiscovery(app: OpenAPIHono<AppEnv>) {
  app.openapi(listTargetsRoute, listTargets);
  app.openapi(createTargetRoute, createTarget);
  app.openapi(getTargetRoute, getTarget);
  app.openapi(replaceTargetRoute, replaceTarget);
  app.openapi(patchTargetRoute, patchTarget);
  app.openapi(deleteTargetRoute, deleteTarget);
  app.openapi(listScansRoute, listScans);
  app.openapi(createScanRoute, createScanHandler);
  app.openapi(getScanRoute, getScan);
  app.openapi(cancelScanRoute, cancelScan);
  app.openapi(listDriversRoute, listDrivers);
  registerDiscoveryAgent(app);
}
