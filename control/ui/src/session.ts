/**
 * Who is logged in and what they may do. The scopes come from the API
 * (`GET /auth/v1/session`); views show only the controls those scopes
 * allow, and the API still checks every call.
 */
import { reactive } from "vue";
import { api, unwrap } from "./api";

export const session = reactive({
  subject: undefined as string | undefined,
  roles: [] as string[],
  scopes: [] as string[],
  expiresAt: undefined as string | undefined,
});

const take = (s: { subject: string | null; roles: string[]; scopes: string[]; expiresAt: string | null }) => {
  session.subject = s.subject ?? undefined;
  session.roles = s.roles;
  session.scopes = s.scopes;
  session.expiresAt = s.expiresAt ?? undefined;
};

export const loggedIn = () => session.subject !== undefined;

/** The session the cookie holds, if any. */
export async function restore(): Promise<boolean> {
  try {
    const { data, response } = await api.GET("/auth/v1/session");
    if (!response.ok || !data) return false;
    take(data);
    return loggedIn();
  } catch {
    // The control plane cannot be reached: the login page says so when it is tried.
    return false;
  }
}

export async function login(clientId: string, clientSecret: string): Promise<void> {
  take((await unwrap(api.POST("/auth/v1/session", { body: { clientId, clientSecret } }))).data);
}

/** Ends the session; the page forgets it only once the control plane has (else the error says why). */
export async function logout(): Promise<void> {
  await unwrap(api.DELETE("/auth/v1/session"));
  forget();
}

export function forget() {
  session.subject = undefined;
  session.roles = [];
  session.scopes = [];
  session.expiresAt = undefined;
}

/** Whether the session holds `scope`. */
export const can = (scope: string) => session.scopes.includes(scope);
