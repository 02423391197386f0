import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../env";
import { defineRoute, json, jsonBody, problems } from "../../route";
import { ScanCreateSchema } from "../schemas";
import { createScan } from "../service";
import { answer, BASE, discoverySettingsOf, KIND, requesterOf, ScanResourceSchema, tags } from "./answer";

export const createScanRoute = defineRoute("write:discovery", {
  method: "post",
  path: BASE,
  tags,
  summary: "Start a discovery scan over some targets (default: all)",
  description:
    "Each address of each target is scanned in turn: its Redfish service is read with the target's credential, and the BMC, its nodes (with MACs and power state) and the enclosing chassis are merged into the inventory; a NodeBMC gets a power endpoint (/power/v1/bmcs). `dryRun` reports what would be created and updated without writing. 422 when a target does not exist or the targets belong to different sites. The scan runs in the background: poll GET /discovery/v1/scans/{id} until its state is completed, failed or cancelled.",
  request: { body: jsonBody(ScanCreateSchema) },
  responses: {
    201: json(ScanResourceSchema, "Created; Location and ETag headers set"),
    ...problems(422),
  },
});

export const createScanHandler: RouteHandler<typeof createScanRoute, AppEnv> = async (c) => {
  const row = await createScan(
    c.var.stores.discovery,
    discoverySettingsOf(c.var.deps),
    c.req.valid("json"),
    requesterOf(c),
  );
  return answer.one(c, KIND, row, 201);
};
