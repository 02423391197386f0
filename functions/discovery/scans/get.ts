import type { RouteHandler } from "@hono/zod-openapi";
import { notFound } from "../../../shared/problem";
import type { AppEnv } from "../../env";
import { defineRoute, json, problems } from "../../route";
import { answer, BASE, KIND, ScanIdParam, ScanResourceSchema, tags } from "./answer";

export const getScanRoute = defineRoute("read:discovery", {
  method: "get",
  path: `${BASE}/{id}`,
  tags,
  summary: "Get a discovery scan with its per-address results",
  description:
    "One result per target address scanned so far: ok or failed (with `error`), the BMC's id, the components created, updated and unchanged, the MACs added, the BMC endpoint's fate and the problems the driver met.",
  request: { params: ScanIdParam },
  responses: { 200: json(ScanResourceSchema, "The scan"), ...problems(404) },
});

export const getScan: RouteHandler<typeof getScanRoute, AppEnv> = async (c) => {
  const { id } = c.req.valid("param");
  const row = await c.var.stores.discovery.getScan(id);
  if (!row) throw notFound("scan", id);
  return answer.one(c, KIND, row);
};
