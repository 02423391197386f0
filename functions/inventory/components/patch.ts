import type { RouteHandler } from "@hono/zod-openapi";
import { guardedUpdate, ifMatch } from "../../../shared/http/conditional";
import type { AppEnv } from "../../env";
import { defineRoute, json, mergePatchBody, problems } from "../../route";
import { answer } from "../answer";
import { ComponentPatchSchema } from "../schemas";
import { mergeComponent } from "../service";
import { ComponentResourceSchema } from "./get";
import { ComponentIdParam } from "./params";

export const patchComponentRoute = defineRoute("write:components", {
  method: "patch",
  path: "/hsm/v2/State/Components/{id}",
  tags: ["inventory"],
  summary: "Update a component (JSON Merge Patch)",
  description:
    "RFC 7396: absent fields are kept, null resets a field to its default. `If-Match` is honoured when given (412 on mismatch).",
  request: {
    params: ComponentIdParam,
    body: mergePatchBody(ComponentPatchSchema),
  },
  responses: { 200: json(ComponentResourceSchema, "Updated"), ...problems(404, 412, 422) },
});

export const patchComponent: RouteHandler<typeof patchComponentRoute, AppEnv> = async (c) => {
  const { id } = c.req.valid("param");
  const patch = c.req.valid("json");
  const store = c.var.stores.inventory;
  const row = await guardedUpdate({
    what: "component",
    id,
    wanted: ifMatch(c, { required: false }),
    read: () => store.getComponent(id),
    change: (current) => mergeComponent(current, patch),
    write: (next, etag) => store.updateComponent(next, etag),
  });
  return answer.one(c, "Component", row);
};
