/**
 * The one middleware behind every route's declared scope: a valid Chamicore
 * token (401 otherwise) holding one of the route's scopes (403 otherwise).
 * The token is the Authorization header's, else the web UI's session
 * cookie (./session.ts).
 */
import type { Context } from "hono";
import { ApiError } from "../../shared/problem";
import type { AppEnv } from "../env";
import { requestToken } from "./session";
import { verifyToken } from "./tokens";

export async function authorize(c: Context<AppEnv>, anyOf: readonly string[]): Promise<void> {
  const { keyring, settings } = c.var.deps.auth;
  const token = requestToken(c);
  const principal = await verifyToken(token, keyring, c.var.stores.auth, settings);
  c.set("principal", principal);
  if (!anyOf.some((s) => principal.scopes.has(s))) {
    const need = anyOf.join(" ");
    throw new ApiError(
      "forbidden",
      `this needs the scope ${anyOf.join(" or ")}; the token has: ${[...principal.scopes].join(" ") || "none"}`,
      {
        headers: {
          "WWW-Authenticate": `Bearer realm="chamicore", error="insufficient_scope", scope="${need}"`,
        },
      },
    );
  }
}
