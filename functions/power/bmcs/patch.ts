import type { RouteHandler } from "@hono/zod-openapi";
import { guardedUpdate, ifMatch } from "../../../shared/http/conditional";
import type { AppEnv } from "../../env";
import { defineRoute, json, mergePatchBody, problems } from "../../route";
import { BmcEndpointPatchSchema } from "../schemas";
import { mergeBmc } from "../service";
import { answer, BASE, BmcIdParam, BmcResourceSchema, KIND, tags } from "./answer";

export const patchBmcRoute = defineRoute("admin:power", {
  method: "patch",
  path: `${BASE}/{id}`,
  tags,
  summary: "Update a BMC endpoint (JSON Merge Patch)",
  description:
    "RFC 7396: absent fields are kept; null resets auth to basic, insecure to false and site to none (the control plane's agent). `If-Match` is honoured when given (412 on mismatch).",
  request: { params: BmcIdParam, body: mergePatchBody(BmcEndpointPatchSchema) },
  responses: { 200: json(BmcResourceSchema, "Updated"), ...problems(404, 412, 422) },
});

export const patchBmc: RouteHandler<typeof patchBmcRoute, AppEnv> = async (c) => {
  const { id } = c.req.valid("param");
  const patch = c.req.valid("json");
  const store = c.var.stores.power;
  const row = await guardedUpdate({
    what: "BMC endpoint",
    id,
    wanted: ifMatch(c, { required: false }),
    read: () => store.getBmc(id),
    change: (current) => mergeBmc(current, patch),
    write: (next, etag) => store.updateBmc(next, etag),
  });
  return answer.one(c, KIND, row);
};
