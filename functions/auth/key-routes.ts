/** Signing keys: which are published, and rotation (`chamicore auth rotate-keys` does the same). */
import type { OpenAPIHono, RouteHandler } from "@hono/zod-openapi";
import { collectionSchema } from "../../shared/envelope";
import { answers } from "../answer";
import type { AppEnv } from "../env";
import { defineRoute, json, jsonBody } from "../route";
import { AUTH_API_VERSION, RotateRequestSchema, SigningKeySchema } from "./schemas";
import type { SigningKeyRow } from "./store";

const tags = ["auth"];
const KeyList = collectionSchema("SigningKey", SigningKeySchema);
const answer = answers(AUTH_API_VERSION);

const keyInfo = (r: SigningKeyRow) => ({
  kid: r.kid,
  alg: r.alg,
  active: r.retiredAt === null,
  retiredAt: r.retiredAt?.toISOString() ?? null,
  publishedUntil: r.publishedUntil?.toISOString() ?? null,
});

const list = defineRoute("admin:auth", {
  method: "get",
  path: "/auth/v1/keys",
  tags,
  summary: "Published signing keys (no key material)",
  responses: { 200: json(KeyList, "The active key and retired keys still verifying tokens") },
});
const listHandler: RouteHandler<typeof list, AppEnv> = async (c) => {
  const { keyring } = c.var.deps.auth;
  await keyring.signingKey(c.var.stores.auth.keys);
  return answer.all(c, "SigningKey", (await keyring.published(c.var.stores.auth.keys, true)).map(keyInfo));
};

const rotate = defineRoute("admin:auth", {
  method: "post",
  path: "/auth/v1/keys/rotate",
  tags,
  summary: "Rotate the signing key",
  description:
    "New tokens are signed with a new key. The previous key stays in the JWKS until the tokens it signed have expired, unless `revokePrevious` removes every older key at once (a leaked key).",
  request: { body: { ...jsonBody(RotateRequestSchema), required: false } },
  responses: { 200: json(KeyList, "Keys after the rotation") },
});
const rotateHandler: RouteHandler<typeof rotate, AppEnv> = async (c) => {
  const body = RotateRequestSchema.parse(c.req.valid("json") ?? {});
  const bundle = body.purpose === "bundle";
  const keyring = bundle ? c.var.deps.auth.bundleKeyring : c.var.deps.auth.keyring;
  const store = bundle ? c.var.stores.auth.bundleKeys : c.var.stores.auth.keys;
  const key = await keyring.rotate(store, body.revokePrevious);
  c.var.deps.logger.warn("signing key rotated", {
    kid: key.kid,
    purpose: body.purpose,
    revokePrevious: body.revokePrevious,
    by: c.var.principal?.sub,
  });
  return answer.all(c, "SigningKey", (await keyring.published(store, true)).map(keyInfo));
};

export function registerKeyRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(list, listHandler);
  app.openapi(rotate, rotateHandler);
}
