import type { RouteHandler } from "@hono/zod-openapi";
import { guardedUpdate, ifMatch } from "../../../shared/http/conditional";
import type { AppEnv } from "../../env";
import { defineRoute, json, mergePatchBody, problems } from "../../route";
import { TargetPatchSchema } from "../schemas";
import { mergeTarget } from "../service";
import { answer, BASE, KIND, TargetIdParam, TargetResourceSchema, tags } from "./answer";

export const patchTargetRoute = defineRoute("write:discovery", {
  method: "patch",
  path: `${BASE}/{id}`,
  tags,
  summary: "Update a discovery target (JSON Merge Patch)",
  description:
    "RFC 7396: absent fields are kept; `options` merge key by key (null removes one, e.g. `{options: {naming: {rule: null}}}`); null resets name, site (the control plane's agent) and options. The result is checked as a replace is. `If-Match` is honoured when given (412 on mismatch). Scans already running keep the target they started with.",
  request: { params: TargetIdParam, body: mergePatchBody(TargetPatchSchema) },
  responses: { 200: json(TargetResourceSchema, "Updated"), ...problems(404, 412, 422) },
});

export const patchTarget: RouteHandler<typeof patchTargetRoute, AppEnv> = async (c) => {
  const { id } = c.req.valid("param");
  const patch = c.req.valid("json");
  const store = c.var.stores.discovery;
  const row = await guardedUpdate({
    what: "discovery target",
    id,
    wanted: ifMatch(c, { required: false }),
    read: () => store.getTarget(id),
    change: (current) => mergeTarget(current, patch),
    write: (next, etag) => store.updateTarget(next, etag),
  });
  return answer.one(c, KIND, row);
};
