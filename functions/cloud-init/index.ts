import type { OpenAPIHono } from "@hono/zod-openapi";
import { etag } from "hono/etag";
import type { AppEnv } from "../env";
import {
  createPayload,
  createPayloadRoute,
  deletePayload,
  deletePayloadRoute,
  getPayload,
  getPayloadRoute,
  listPayloads,
  listPayloadsRoute,
  patchPayload,
  patchPayloadRoute,
  replacePayload,
  replacePayloadRoute,
} from "./payloads";
import { registerServing } from "./serve";

export type { CloudInitReadStore, CloudInitStore, NodeFacts } from "./store";

/** The cloud-init service (`/cloud-init`): payload CRUD and NoCloud serving. */
export function registerCloudInit(app: OpenAPIHono<AppEnv>) {
  // Lists answer If-None-Match from a hash of the page; payloads carry their stored etag.
  app.use("/cloud-init/*", etag());
  // Serving first: Hono runs the first registered match, so `GET /cloud-init/payloads/user-data`
  // is the user-data of component `payloads` (no payload may be called `user-data`).
  registerServing(app);
  app.openapi(listPayloadsRoute, listPayloads);
  app.openapi(createPayloadRoute, createPayload);
  app.openapi(getPayloadRoute, getPayload);
  app.openapi(replacePayloadRoute, replacePayload);
  app.openapi(patchPayloadRoute, patchPayload);
  app.openapi(deletePayloadRoute, deletePayload);
}
