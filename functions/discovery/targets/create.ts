import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../env";
import { defineRoute, json, jsonBody, problems } from "../../route";
import { TargetCreateSchema } from "../schemas";
import { buildTarget } from "../service";
import { answer, BASE, KIND, TargetResourceSchema, tags } from "./answer";

export const createTargetRoute = defineRoute("write:discovery", {
  method: "post",
  path: BASE,
  tags,
  summary: "Create a discovery target: BMCs to scan and the credential to log in with",
  description:
    "`addresses` are BMC URLs or host[:port] (https assumed). `credentialId` names a device credential (/auth/v1/credentials; 422 when it does not exist). `options` are the driver's (GET /discovery/v1/drivers), checked here (422 naming the field). A second target with the same id is a 409.",
  request: { body: jsonBody(TargetCreateSchema) },
  responses: {
    201: json(TargetResourceSchema, "Created; Location and ETag headers set"),
    ...problems(409, 422),
  },
});

export const createTarget: RouteHandler<typeof createTargetRoute, AppEnv> = async (c) => {
  const body = c.req.valid("json");
  const row = await c.var.stores.discovery.createTarget(buildTarget(body, body.id));
  return answer.one(c, KIND, row, 201);
};
