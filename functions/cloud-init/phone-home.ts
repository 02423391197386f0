/**
 * `POST /cloud-init/phone-home`: where the `phone_home` module of cloud-init
 * posts (`phone_home: {url: <edge or control>/cloud-init/phone-home, post:
 * all}`) at the end of a node's boot. The node is found as for its
 * documents: by `?mac=`, else by the caller's address. The form cloud-init
 * posts (instance_id, hostname, fqdn, pub_key_*) is read by nobody: the
 * address says who it is, and keys are not Chamicore's to keep.
 */
import { type RouteHandler, z } from "@hono/zod-openapi";
import type { AppEnv } from "../env";
import { MacInputSchema } from "../inventory/schemas";
import { DONE_STAGE } from "../progress/schemas";
import { defineRoute, problems } from "../route";
import { callerOf, callingNode } from "./caller";

export const PHONE_HOME_PATH = "/cloud-init/phone-home";

export const phoneHomeRoute = defineRoute("public", {
  method: "post",
  path: PHONE_HOME_PATH,
  tags: ["cloud-init"],
  summary: "A node says its boot finished (cloud-init phone_home)",
  description:
    "Public, like the documents: the node is the one named by `?mac=`, else the one holding the caller's source address (404 when none, 409 when several). The body (cloud-init posts a form: instance_id, hostname, pub keys) is accepted and not kept. Recorded as the node's `phone-home` stage in `GET /boot/v1/status`: by an edge in its next batch, by the control plane at once.",
  request: {
    query: z.object({
      mac: MacInputSchema.optional().openapi({
        param: { name: "mac", in: "query" },
        description: "Identify the node by this MAC instead of by the source address.",
      }),
    }),
  },
  responses: { 204: { description: "Recorded" }, ...problems(404, 409) },
});

export const phoneHome: RouteHandler<typeof phoneHomeRoute, AppEnv> = async (c) => {
  const { mac } = c.req.valid("query");
  const store = c.var.stores.cloudInit;
  const caller = callerOf(c);
  const node = await callingNode(store, mac, caller);
  const seen = { node: node.id, stage: DONE_STAGE, address: caller };
  const observer = c.var.deps.progress;
  if (observer) observer.seen(seen);
  else {
    const at = new Date();
    await c.var.stores.progress.record(null, [
      { ...seen, at, edgeAt: at, retry: null, address: caller ?? null },
    ]);
  }
  return c.body(null, 204);
};
