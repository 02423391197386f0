import { type RouteHandler, z } from "@hono/zod-openapi";
import type { AppEnv } from "../env";
import { describeDrivers } from "../redfish/drivers";
import { defineRoute, json } from "../route";
import { DISCOVERY_API_VERSION, DRIVER_KIND, DriverSchema } from "./schemas";

const DriverListSchema = z
  .object({
    kind: z.literal(`${DRIVER_KIND}List`),
    apiVersion: z.literal(DISCOVERY_API_VERSION),
    items: z.array(DriverSchema),
  })
  .openapi("DiscoveryDriverList");

export const listDriversRoute = defineRoute("read:discovery", {
  method: "get",
  path: "/discovery/v1/drivers",
  tags: ["discovery"],
  summary: "List the discovery drivers and their options",
  description:
    "redfish: what targets scan; import: the CLI's file importer (`chamicore import`). Options are JSON Schema: what a target's `options` may hold.",
  responses: { 200: json(DriverListSchema, "The drivers") },
});

export const listDrivers: RouteHandler<typeof listDriversRoute, AppEnv> = (c) =>
  c.json(
    { kind: `${DRIVER_KIND}List` as const, apiVersion: DISCOVERY_API_VERSION, items: describeDrivers() },
    200,
  );
