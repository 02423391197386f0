/**
 * The control API's OpenAPI document without a running server or database:
 * the app composed with inert dependencies answers `/api/openapi.json` from
 * the route definitions alone. The contract test and the typed client's
 * generator (scripts/gen-client.ts) both read it from here.
 */
import { Keyring } from "../functions/auth";
import { parseEnv, ServingEnvSchema, servingSettingsOf } from "../functions/config";
import { generateMasterKey } from "../shared/auth/crypto";
import { silentLogger } from "../shared/log";
import { Registry } from "../shared/metrics";
import { createControlApp } from "./app";
import { authSettingsOf, WorkerAuthEnvSchema } from "./config";

/** The app as the document sees it (its routes are what the contract test compares against). */
export function documentApp() {
  const settings = authSettingsOf(parseEnv(WorkerAuthEnvSchema, {}), generateMasterKey());
  return createControlApp({
    logger: silentLogger,
    registry: new Registry(),
    runtime: "node",
    stores: async (_c, next) => next(),
    auth: { settings, keyring: new Keyring(settings), bundleKeyring: new Keyring(settings) },
    serving: servingSettingsOf(parseEnv(ServingEnvSchema, {}), () => undefined),
  });
}

// biome-ignore lint/suspicious/noExplicitAny: an OpenAPI document, inspected freely by its readers.
export async function openApiDocument(app = documentApp()): Promise<any> {
  const res = await app.request("/api/openapi.json");
  if (res.status !== 200) throw new Error(`the OpenAPI document did not render: ${res.status}`);
  return res.json();
}
