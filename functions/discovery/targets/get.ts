import type { RouteHandler } from "@hono/zod-openapi";
import { notFound } from "../../../shared/problem";
import type { AppEnv } from "../../env";
import { defineRoute, json, problems } from "../../route";
import { answer, BASE, KIND, TargetIdParam, TargetResourceSchema, tags } from "./answer";

export const getTargetRoute = defineRoute("read:discovery", {
  method: "get",
  path: `${BASE}/{id}`,
  tags,
  summary: "Get a discovery target",
  request: { params: TargetIdParam },
  responses: { 200: json(TargetResourceSchema, "The target; ETag header set"), ...problems(304, 404) },
});

export const getTarget: RouteHandler<typeof getTargetRoute, AppEnv> = async (c) => {
  const { id } = c.req.valid("param");
  const row = await c.var.stores.discovery.getTarget(id);
  if (!row) throw notFound("discovery target", id);
  return answer.one(c, KIND, row);
};
