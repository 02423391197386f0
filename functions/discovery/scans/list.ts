import type { RouteHandler } from "@hono/zod-openapi";
import { boolean, type ListSpec, listQuerySchema, oneOf } from "../../../shared/list-query";
import type { AppEnv } from "../../env";
import { defineRoute, json } from "../../route";
import { SCAN_STATES, ScanSchema } from "../schemas";
import { answer, BASE, KIND, ScanListSchema, tags } from "./answer";

export const scanListSpec: ListSpec = {
  filters: {
    state: { description: `Scan state: ${SCAN_STATES.join(", ")}`, parse: oneOf(SCAN_STATES) },
    dryRun: { description: "true: dry runs only", parse: boolean },
    requestedBy: { description: "Who asked (token subject)" },
  },
  sortable: ["createdAt", "updatedAt", "state"],
  fields: Object.keys(ScanSchema.shape).filter((f) => f !== "results"),
  defaultSort: "-createdAt",
};

export const listScansRoute = defineRoute("read:discovery", {
  method: "get",
  path: BASE,
  tags,
  summary: "List discovery scans, newest first",
  description:
    "Without results (GET /discovery/v1/scans/{id} has them). Filters are equality matches, comma = OR.",
  request: { query: listQuerySchema(scanListSpec) },
  responses: { 200: json(ScanListSchema, "A page of scans") },
});

export const listScans: RouteHandler<typeof listScansRoute, AppEnv> = (c) =>
  answer.list(c, KIND, scanListSpec, (q) => c.var.stores.discovery.listScans(q));
