import type { RouteHandler } from "@hono/zod-openapi";
import { notFound } from "../../../shared/problem";
import type { AppEnv } from "../../env";
import { defineRoute, json, problems } from "../../route";
import { answer, BASE, BmcIdParam, BmcResourceSchema, KIND, tags } from "./answer";

export const getBmcRoute = defineRoute("read:power", {
  method: "get",
  path: `${BASE}/{id}`,
  tags,
  summary: "Get a BMC endpoint",
  request: { params: BmcIdParam },
  responses: { 200: json(BmcResourceSchema, "The BMC endpoint; ETag header set"), ...problems(304, 404) },
});

export const getBmc: RouteHandler<typeof getBmcRoute, AppEnv> = async (c) => {
  const { id } = c.req.valid("param");
  const row = await c.var.stores.power.getBmc(id);
  if (!row) throw notFound("BMC endpoint", id);
  return answer.one(c, KIND, row);
};
