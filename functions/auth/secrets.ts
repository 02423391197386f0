/**
 * Where plaintext secrets meet the master key: sealing device credentials and
 * hashing service-account secrets before a store sees them.
 */
import { hashSecret, randomSecret, seal, unseal, verifySecret } from "../../shared/auth/crypto";
import type { AuthSettings } from "./settings";

const credentialPurpose = (id: string) => `credential:${id}`;

export const sealCredential = async (settings: AuthSettings, id: string, secret: string) =>
  seal(await settings.masterKey(), secret, credentialPurpose(id));

export const unsealCredential = async (settings: AuthSettings, id: string, sealed: string) =>
  unseal(await settings.masterKey(), sealed, credentialPurpose(id));

/** A new client secret and the hash to store; the secret is shown once. */
export async function newClientSecret(): Promise<{ secret: string; hash: string }> {
  const secret = randomSecret(32);
  return { secret, hash: await hashSecret(secret) };
}

export { hashSecret, verifySecret };
