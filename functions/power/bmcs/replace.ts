import type { RouteHandler } from "@hono/zod-openapi";
import { requiredIfMatch } from "../../../shared/http/conditional";
import type { AppEnv } from "../../env";
import { defineRoute, json, jsonBody, problems } from "../../route";
import { BmcEndpointReplaceSchema } from "../schemas";
import { buildBmc } from "../service";
import { answer, BASE, BmcIdParam, BmcResourceSchema, KIND, tags } from "./answer";

export const replaceBmcRoute = defineRoute("admin:power", {
  method: "put",
  path: `${BASE}/{id}`,
  tags,
  summary: "Replace a BMC endpoint",
  description:
    "Needs `If-Match` with the etag of your last read: 428 without it, 412 when it changed meanwhile. Tasks already running keep the endpoint they started with.",
  request: { params: BmcIdParam, body: jsonBody(BmcEndpointReplaceSchema) },
  responses: { 200: json(BmcResourceSchema, "Replaced"), ...problems(404, 412, 422, 428) },
});

export const replaceBmc: RouteHandler<typeof replaceBmcRoute, AppEnv> = async (c) => {
  const { id } = c.req.valid("param");
  const next = buildBmc(c.req.valid("json"), id);
  const store = c.var.stores.power;
  const tag = await requiredIfMatch(c, "BMC endpoint", id, () => store.getBmc(id));
  return answer.one(c, KIND, await store.updateBmc(next, tag));
};
