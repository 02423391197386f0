import type { RouteHandler } from "@hono/zod-openapi";
import { requiredIfMatch } from "../../../shared/http/conditional";
import type { AppEnv } from "../../env";
import { defineRoute, json, jsonBody, problems } from "../../route";
import { BootParamsReplaceSchema } from "../schemas";
import { buildBootParams, checkPathId } from "../service";
import { answer, BASE, BootParamsResourceSchema, KIND, tags } from "./answer";
import { BootParamsIdParam } from "./params";

export const replaceBootParamsRoute = defineRoute("write:bootparams", {
  method: "put",
  path: `${BASE}/{id}`,
  tags,
  summary: "Replace boot parameters",
  description:
    "Needs `If-Match` with the etag of your last read: 428 without it, 412 when it changed meanwhile. The same target rules as create apply; the target may change.",
  request: { params: BootParamsIdParam, body: jsonBody(BootParamsReplaceSchema) },
  responses: { 200: json(BootParamsResourceSchema, "Replaced"), ...problems(404, 409, 412, 422, 428) },
});

export const replaceBootParams: RouteHandler<typeof replaceBootParamsRoute, AppEnv> = async (c) => {
  const { id } = c.req.valid("param");
  const body = c.req.valid("json");
  checkPathId(body.id, id);
  const store = c.var.stores.boot;
  const tag = await requiredIfMatch(c, "boot parameters", id, () => store.getParams(id));
  const row = await store.updateParams(buildBootParams(body, id), tag);
  return answer.one(c, KIND, row);
};
