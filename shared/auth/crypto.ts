/**
 * Secrets at rest, with WebCrypto only so that Node and workerd share it:
 * AES-GCM sealing under the master key, and slow salted hashes for client
 * secrets.
 *
 * Sealed values carry their purpose as additional authenticated data (for
 * example `credential:<id>`), so a ciphertext copied to another row does not
 * open there.
 */

/** A WebCrypto key, named without the DOM or Node type libraries. */
export type SecretKey = Awaited<ReturnType<typeof crypto.subtle.importKey>>;
type Bytes = Uint8Array<ArrayBuffer>;

const enc = new TextEncoder();
const dec = new TextDecoder();

export function toBase64Url(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function fromBase64(text: string): Bytes {
  const b64 = text.replace(/-/g, "+").replace(/_/g, "/");
  const bin = atob(b64 + "=".repeat((4 - (b64.length % 4)) % 4));
  return Uint8Array.from(bin, (ch) => ch.charCodeAt(0));
}

/** A random secret of `bytes` bytes, base64url (43 characters for 32 bytes). */
export function randomSecret(bytes = 32): string {
  return toBase64Url(crypto.getRandomValues(new Uint8Array(bytes)));
}

/** A fresh master key, base64 as CHAMICORE_MASTER_KEY expects it. */
export function generateMasterKey(): string {
  return btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(32))));
}

/** Imports CHAMICORE_MASTER_KEY (base64 or base64url of exactly 32 bytes). */
export async function importMasterKey(b64: string): Promise<SecretKey> {
  let raw: Bytes;
  try {
    raw = fromBase64(b64.trim());
  } catch {
    throw new Error("CHAMICORE_MASTER_KEY is not base64");
  }
  if (raw.length !== 32)
    throw new Error(`CHAMICORE_MASTER_KEY must decode to 32 bytes; it decodes to ${raw.length}`);
  return crypto.subtle.importKey("raw", raw, "AES-GCM", false, ["encrypt", "decrypt"]);
}

/** `v1.<iv>.<ciphertext>`, AES-256-GCM with a random 96-bit IV. */
export async function seal(key: SecretKey, plaintext: string, purpose: string): Promise<string> {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = await crypto.subtle.encrypt(
    { name: "AES-GCM", iv, additionalData: enc.encode(purpose) },
    key,
    enc.encode(plaintext),
  );
  return `v1.${toBase64Url(iv)}.${toBase64Url(new Uint8Array(ct))}`;
}

/** Opens what `seal` made for the same purpose; throws on any tampering or a wrong key. */
export async function unseal(key: SecretKey, sealed: string, purpose: string): Promise<string> {
  const [version, iv, ct] = sealed.split(".");
  if (version !== "v1" || !iv || !ct) throw new Error("unknown sealed-value format");
  const pt = await crypto.subtle.decrypt(
    { name: "AES-GCM", iv: fromBase64(iv), additionalData: enc.encode(purpose) },
    key,
    fromBase64(ct),
  );
  return dec.decode(pt);
}

/**
 * OWASP's 2023 figure for PBKDF2-HMAC-SHA256. The count is stored in each
 * hash, so raising it later only affects new secrets.
 */
export const PBKDF2_ITERATIONS = 600_000;

async function pbkdf2(secret: string, salt: Bytes, iterations: number): Promise<Bytes> {
  const base = await crypto.subtle.importKey("raw", enc.encode(secret), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt: salt, iterations },
    base,
    256,
  );
  return new Uint8Array(bits);
}

/** `pbkdf2-sha256$<iterations>$<salt>$<hash>` (base64url parts). */
export async function hashSecret(secret: string, iterations = PBKDF2_ITERATIONS): Promise<string> {
  const salt = crypto.getRandomValues(new Uint8Array(16));
  const hash = await pbkdf2(secret, salt, iterations);
  return `pbkdf2-sha256$${iterations}$${toBase64Url(salt)}$${toBase64Url(hash)}`;
}

export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const [scheme, iter, salt, hash] = stored.split("$");
  const iterations = Number(iter);
  // A corrupt row is a failed check, never an error (nor a request that hashes for minutes).
  if (scheme !== "pbkdf2-sha256" || !salt || !hash || !Number.isInteger(iterations)) return false;
  if (iterations < 1 || iterations > 10_000_000) return false;
  let want: Bytes;
  let saltBytes: Bytes;
  try {
    want = fromBase64(hash);
    saltBytes = fromBase64(salt);
  } catch {
    return false;
  }
  const got = await pbkdf2(secret, saltBytes, iterations);
  // Constant time over the whole digest.
  let diff = want.length ^ got.length;
  for (let i = 0; i < got.length; i++) diff |= got[i]! ^ (want[i] ?? 0);
  return diff === 0;
}
