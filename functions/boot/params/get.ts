import type { RouteHandler } from "@hono/zod-openapi";
import { notFound } from "../../../shared/problem";
import type { AppEnv } from "../../env";
import { defineRoute, json, problems } from "../../route";
import { answer, BASE, BootParamsResourceSchema, KIND, tags } from "./answer";
import { BootParamsIdParam } from "./params";

export const getBootParamsRoute = defineRoute("read:bootparams", {
  method: "get",
  path: `${BASE}/{id}`,
  tags,
  summary: "Get boot parameters",
  request: { params: BootParamsIdParam },
  responses: {
    200: json(BootParamsResourceSchema, "The boot parameters; ETag header set"),
    ...problems(304, 404),
  },
});

export const getBootParams: RouteHandler<typeof getBootParamsRoute, AppEnv> = async (c) => {
  const { id } = c.req.valid("param");
  const row = await c.var.stores.boot.getParams(id);
  if (!row) throw notFound("boot parameters", id);
  return answer.one(c, KIND, row);
};
