import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../env";
import { defineRoute, json, jsonBody, problems } from "../../route";
import { BmcEndpointCreateSchema } from "../schemas";
import { buildBmc } from "../service";
import { answer, BASE, BmcResourceSchema, KIND, tags } from "./answer";

export const createBmcRoute = defineRoute("admin:power", {
  method: "post",
  path: BASE,
  tags,
  summary: "Create a BMC endpoint: how to reach a BMC and log in to it",
  description:
    "`id` is the BMC's component id: a NodeBMC in the inventory (422 otherwise). Its Node children (components whose parentId is this BMC) are powered through it. `credentialId` names a device credential (/auth/v1/credentials) holding the user name and password (422 when it does not exist). A second endpoint for the same BMC is a 409.",
  request: { body: jsonBody(BmcEndpointCreateSchema) },
  responses: {
    201: json(BmcResourceSchema, "Created; Location and ETag headers set"),
    ...problems(409, 422),
  },
});

export const createBmc: RouteHandler<typeof createBmcRoute, AppEnv> = async (c) => {
  const body = c.req.valid("json");
  const row = await c.var.stores.power.createBmc(buildBmc(body, body.id));
  return answer.one(c, KIND, row, 201);
};
