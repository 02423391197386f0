import type { RouteHandler } from "@hono/zod-openapi";
import { requiredIfMatch } from "../../../shared/http/conditional";
import type { AppEnv } from "../../env";
import { defineRoute, json, jsonBody, problems } from "../../route";
import { TargetReplaceSchema } from "../schemas";
import { buildTarget } from "../service";
import { answer, BASE, KIND, TargetIdParam, TargetResourceSchema, tags } from "./answer";

export const replaceTargetRoute = defineRoute("write:discovery", {
  method: "put",
  path: `${BASE}/{id}`,
  tags,
  summary: "Replace a discovery target",
  description:
    "Needs `If-Match` with the etag of your last read: 428 without it, 412 when it changed meanwhile. Scans already running keep the target they started with.",
  request: { params: TargetIdParam, body: jsonBody(TargetReplaceSchema) },
  responses: { 200: json(TargetResourceSchema, "Replaced"), ...problems(404, 412, 422, 428) },
});

export const replaceTarget: RouteHandler<typeof replaceTargetRoute, AppEnv> = async (c) => {
  const { id } = c.req.valid("param");
  const next = buildTarget(c.req.valid("json"), id);
  const store = c.var.stores.discovery;
  const tag = await requiredIfMatch(c, "discovery target", id, () => store.getTarget(id));
  return answer.one(c, KIND, await store.updateTarget(next, tag));
};
