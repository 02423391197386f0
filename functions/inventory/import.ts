/**
 * Bulk enrolment: up to 10,000 components with their interfaces in one
 * request and one transaction, all or nothing. Every problem is reported
 * with its item's path (`components[42].interfaces[0].macAddress`).
 */
import type { OpenAPIHono, RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../env";
import { defineRoute, json, jsonBody, problems } from "../route";
import {
  BULK_IMPORT_BODY_LIMIT,
  BULK_IMPORT_MAX,
  BulkImportResultSchema,
  BulkImportSchema,
  HSM_API_VERSION,
} from "./schemas";
import { buildNewComponents } from "./service";

export const IMPORT_PATH = "/hsm/v2/import";
export const IMPORT_BODY_LIMIT = BULK_IMPORT_BODY_LIMIT;

export const importRoute = defineRoute("write:components", {
  method: "post",
  path: IMPORT_PATH,
  tags: ["inventory"],
  summary: "Bulk import components with their interfaces",
  description: `Up to ${BULK_IMPORT_MAX} components in one transaction: either all are created or none is, and the problem lists every failing item. Body limit ${BULK_IMPORT_BODY_LIMIT / 1024 / 1024} MiB.`,
  request: { body: jsonBody(BulkImportSchema) },
  responses: { 201: json(BulkImportResultSchema, "All created"), ...problems(409, 422) },
});

const pathOf = (i: number) => `components[${i}].`;

export const importHandler: RouteHandler<typeof importRoute, AppEnv> = async (c) => {
  const { components } = c.req.valid("json");
  const items = buildNewComponents(components, pathOf);
  const rows = await c.var.stores.inventory.createComponents(items, pathOf);
  return c.json(
    {
      kind: "BulkImportResult" as const,
      apiVersion: HSM_API_VERSION,
      created: { components: rows.length, interfaces: items.reduce((n, it) => n + it.interfaces.length, 0) },
      ids: rows.map((r) => r.id),
    },
    201,
  );
};

export function registerImportRoute(app: OpenAPIHono<AppEnv>) {
  app.openapi(importRoute, importHandler);
}
