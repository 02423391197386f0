import type { RouteHandler } from "@hono/zod-openapi";
import { guardedUpdate, ifMatch } from "../../../shared/http/conditional";
import type { AppEnv } from "../../env";
import { defineRoute, json, mergePatchBody, problems } from "../../route";
import { BootParamsPatchSchema } from "../schemas";
import { mergeBootParams } from "../service";
import { answer, BASE, BootParamsResourceSchema, KIND, tags } from "./answer";
import { BootParamsIdParam } from "./params";

export const patchBootParamsRoute = defineRoute("write:bootparams", {
  method: "patch",
  path: `${BASE}/{id}`,
  tags,
  summary: "Update boot parameters (JSON Merge Patch)",
  description:
    'RFC 7396: absent fields are kept; null clears a target field or resets initrdUri/cmdline to empty. Move params to another target with e.g. `{componentId: null, role: "Compute"}`. `If-Match` is honoured when given (412 on mismatch).',
  request: { params: BootParamsIdParam, body: mergePatchBody(BootParamsPatchSchema) },
  responses: { 200: json(BootParamsResourceSchema, "Updated"), ...problems(404, 409, 412, 422) },
});

export const patchBootParams: RouteHandler<typeof patchBootParamsRoute, AppEnv> = async (c) => {
  const { id } = c.req.valid("param");
  const patch = c.req.valid("json");
  const store = c.var.stores.boot;
  const row = await guardedUpdate({
    what: "boot parameters",
    id,
    wanted: ifMatch(c, { required: false }),
    read: () => store.getParams(id),
    change: (current) => mergeBootParams(current, patch),
    write: (next, etag) => store.updateParams(next, etag),
  });
  return answer.one(c, KIND, row);
};
