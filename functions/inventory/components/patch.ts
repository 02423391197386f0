import type { RouteHandler } from "@hono/zod-openapi";
import { httpEtag, toResource } from "../../../shared/envelope";
import { guardedUpdate, ifMatch } from "../../../shared/http/conditional";
import type { AppEnv } from "../../env";
import { defineRoute, json, problems } from "../../route";
import { API_VERSION, ComponentPatchSchema } from "../schemas";
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
    body: {
      required: true,
      content: {
        "application/merge-patch+json": { schema: ComponentPatchSchema },
        "application/json": { schema: ComponentPatchSchema },
      },
    },
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
  return c.json(toResource("Component", API_VERSION, row) as never, 200, { ETag: httpEtag(row.etag) });
};
