/** The auth service: tokens, keys, service accounts, RBAC, revocations, device credentials. */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../env";
import { registerAccountRoutes } from "./account-routes";
import { registerCredentialRoutes } from "./credential-routes";
import { registerKeyRoutes } from "./key-routes";
import { registerOidcLoginRoutes } from "./oidc-login-routes";
import { registerPolicyRoutes } from "./policy-routes";
import { registerSessionRoutes } from "./session-routes";
import { registerTokenRoutes, TOKEN_PATH } from "./token-routes";

export { authorize } from "./authorize";
export { Keyring } from "./keyring";
export { TOKEN_PATH };

export function registerAuth(app: OpenAPIHono<AppEnv>) {
  registerTokenRoutes(app);
  registerSessionRoutes(app);
  registerOidcLoginRoutes(app);
  registerKeyRoutes(app);
  registerAccountRoutes(app);
  registerPolicyRoutes(app);
  registerCredentialRoutes(app);
}
