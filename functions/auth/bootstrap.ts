/**
 * The first administrator. With CHAMICORE_BOOTSTRAP_CLIENT_ID/_SECRET the
 * account is made to exist with exactly that secret and the admin role, at
 * every start (idempotent: nothing is written when it already matches).
 * Without them, the very first start (no service account at all) creates
 * `admin` with a random secret and returns it so the caller can show it once.
 */
import { hashSecret, newClientSecret, verifySecret } from "./secrets";
import { type AuthSettings, SUBJECT_REVOCATION_LIFETIME } from "./settings";
import type { AuthStores } from "./store";

export const FIRST_ADMIN_ID = "admin";

export type BootstrapResult =
  | { kind: "ensured"; clientId: string; changed: boolean }
  | { kind: "created"; clientId: string; clientSecret: string }
  | { kind: "none" };

export async function ensureBootstrap(stores: AuthStores, settings: AuthSettings): Promise<BootstrapResult> {
  const want = settings.bootstrap;
  if (want) {
    const record = await stores.accounts.get(want.clientId);
    if (!record) {
      await stores.accounts
        .create(
          {
            id: want.clientId,
            description: "Bootstrap administrator (CHAMICORE_BOOTSTRAP_CLIENT_ID)",
            roles: ["admin"],
            scopes: null,
            enabled: true,
          },
          await hashSecret(want.clientSecret),
        )
        .catch(async (e) => {
          // Another instance created it at the same moment: fine if it is there now.
          if (!(await stores.accounts.get(want.clientId))) throw e;
        });
      return { kind: "ensured", clientId: want.clientId, changed: true };
    }
    const a = record.account.spec;
    const secretOk = await verifySecret(want.clientSecret, record.secretHash);
    if (secretOk && a.enabled && a.roles.includes("admin") && a.scopes === null)
      return { kind: "ensured", clientId: want.clientId, changed: false };
    await stores.accounts.update(
      { ...a, enabled: true, scopes: null, roles: [...new Set([...a.roles, "admin"])] },
      record.account.etag,
      SUBJECT_REVOCATION_LIFETIME,
      secretOk ? undefined : await hashSecret(want.clientSecret),
    );
    return { kind: "ensured", clientId: want.clientId, changed: true };
  }
  if ((await stores.accounts.count()) > 0) return { kind: "none" };
  const { secret, hash } = await newClientSecret();
  const created = await stores.accounts
    .create(
      {
        id: FIRST_ADMIN_ID,
        description: "First administrator, created on the first start",
        roles: ["admin"],
        scopes: null,
        enabled: true,
      },
      hash,
    )
    .then(
      () => true,
      async (e) => {
        // Another instance started at the same moment made it first: that one shows its secret.
        if (await stores.accounts.get(FIRST_ADMIN_ID)) return false;
        throw e;
      },
    );
  if (!created) return { kind: "none" };
  return { kind: "created", clientId: FIRST_ADMIN_ID, clientSecret: secret };
}
