/** The token endpoint's use of the login throttle (login-throttle.ts). */
import type { Context } from "hono";
import { clientAddress } from "../../shared/http/client-address";
import { ApiError } from "../../shared/problem";
import type { AppEnv } from "../env";
import { OAuthError } from "./grants";
import type { LoginAttempt } from "./login-throttle";

/**
 * Runs a client-credentials login under the throttle: refused with 429 when
 * the client id or the address has spent its budget; a failure
 * (`invalid_client`: unknown client, wrong secret, disabled account) keeps
 * its count and is logged at warn with who tried from where, never the
 * secret; any other outcome gives the count back.
 */
export async function guardLogin<T>(
  c: Context<AppEnv>,
  clientId: string,
  login: () => Promise<T>,
): Promise<T> {
  const { serving, logger, auth } = c.var.deps;
  const throttle = auth.settings.loginThrottle;
  const attempt: LoginAttempt = {
    clientId,
    address: clientAddress(serving.peerAddress(c), c.req.header("X-Forwarded-For"), serving.trustedProxies),
  };
  const wait = await throttle.acquire(attempt, Date.now());
  if (wait > 0) {
    logger.warn("login throttled", { clientId, address: attempt.address, retryAfter: wait });
    throw new ApiError(
      "too-many-requests",
      `too many failed logins for client '${clientId}' or from this address: try again in ${wait} s`,
      { headers: { "Retry-After": String(wait), "Cache-Control": "no-store" } },
    );
  }
  try {
    const result = await login();
    await throttle.release(attempt, Date.now());
    return result;
  } catch (e) {
    if (e instanceof OAuthError && e.code === "invalid_client") {
      logger.warn("login failed", { clientId, address: attempt.address, reason: e.message });
      await throttle.failed(attempt, Date.now());
    } else await throttle.release(attempt, Date.now());
    throw e;
  }
}
