/**
 * The UI's one way to the control API: the typed client generated from the
 * OpenAPI document (shared/client), on this page's own origin. The session
 * cookie goes with every request by itself; no token is ever in reach of
 * the page's scripts. A 401 on any call means the session has ended.
 */
import { ApiProblem, createClient, unwrap } from "../../../shared/client";

export { ApiProblem, unwrap };

/** Told when the API answers 401: the session expired or was revoked. */
let onUnauthorized: () => void = () => {};
export const whenUnauthorized = (f: () => void) => {
  onUnauthorized = f;
};

export const api = createClient({ endpoint: `${location.origin}` });
api.use({
  onResponse({ request, response }) {
    if (response.status === 401 && !new URL(request.url).pathname.endsWith("/auth/v1/session"))
      onUnauthorized();
    return response;
  },
});

/** Any error as the user should read it: the API's problem, or what kept the request from it. */
export function problemOf(e: unknown): ApiProblem {
  if (e instanceof ApiProblem) return e;
  const message = e instanceof Error ? e.message : String(e);
  return new ApiProblem(0, { title: "The control plane could not be reached", detail: message });
}
