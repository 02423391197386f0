/**
 * The keys an edge trusts bundles by (CHAMICORE_EDGE_TRUSTED_KEYS): one or
 * more public keys, each a PEM `PUBLIC KEY` block, a JWK, or a JWKS (what
 * `chamicore export --public-key` writes), given inline or as the path of a
 * file holding them; several values are separated by commas (paths) or
 * simply concatenated (PEM blocks).
 */
import { existsSync, readFileSync } from "node:fs";
import { importJWK, importSPKI, type JWK } from "jose";

export type TrustedKey = {
  /** The key's id when it has one (a JWK's `kid`); a PEM key has none and is tried for any kid. */
  kid: string | undefined;
  alg: "ES256" | "RS256";
  key: Awaited<ReturnType<typeof importSPKI>>;
  /** Where it came from, for messages. */
  from: string;
};

export class TrustError extends Error {}

const PEM = /-----BEGIN PUBLIC KEY-----[\s\S]+?-----END PUBLIC KEY-----/g;

/** The trusted keys in `value`; throws TrustError naming what could not be read. */
export async function loadTrustedKeys(value: string): Promise<TrustedKey[]> {
  const texts: { text: string; from: string }[] = [];
  const trimmed = value.trim();
  if (trimmed.startsWith("-----BEGIN") || trimmed.startsWith("{"))
    texts.push({ text: trimmed, from: "inline" });
  else
    for (const path of trimmed
      .split(",")
      .map((p) => p.trim())
      .filter(Boolean)) {
      if (!existsSync(path)) throw new TrustError(`CHAMICORE_EDGE_TRUSTED_KEYS: no file at ${path}`);
      texts.push({ text: readFileSync(path, "utf8").trim(), from: path });
    }
  const keys: TrustedKey[] = [];
  for (const { text, from } of texts) {
    if (text.startsWith("{")) {
      let doc: { keys?: JWK[] } & JWK;
      try {
        doc = JSON.parse(text) as typeof doc;
      } catch (e) {
        throw new TrustError(`CHAMICORE_EDGE_TRUSTED_KEYS (${from}): not JSON: ${(e as Error).message}`);
      }
      for (const jwk of Array.isArray(doc.keys) ? doc.keys : [doc]) keys.push(await fromJwk(jwk, from));
      continue;
    }
    const blocks = text.match(PEM) ?? [];
    if (blocks.length === 0)
      throw new TrustError(
        `CHAMICORE_EDGE_TRUSTED_KEYS (${from}): neither a PEM public key nor a JWK or JWKS`,
      );
    for (const pem of blocks) keys.push(await fromPem(pem, from));
  }
  if (keys.length === 0) throw new TrustError("CHAMICORE_EDGE_TRUSTED_KEYS holds no key");
  return keys;
}

async function fromJwk(jwk: JWK, from: string): Promise<TrustedKey> {
  if (jwk.d !== undefined)
    throw new TrustError(
      `CHAMICORE_EDGE_TRUSTED_KEYS (${from}): a private key; give the edge the public key only`,
    );
  const alg: string | undefined =
    jwk.alg ?? (jwk.kty === "EC" ? "ES256" : jwk.kty === "RSA" ? "RS256" : undefined);
  if (alg !== "ES256" && alg !== "RS256")
    throw new TrustError(
      `CHAMICORE_EDGE_TRUSTED_KEYS (${from}): key type ${jwk.kty}/${jwk.alg} is not ES256 or RS256`,
    );
  try {
    return { kid: jwk.kid, alg, key: (await importJWK(jwk, alg)) as TrustedKey["key"], from };
  } catch (e) {
    throw new TrustError(`CHAMICORE_EDGE_TRUSTED_KEYS (${from}): ${(e as Error).message}`);
  }
}

async function fromPem(pem: string, from: string): Promise<TrustedKey> {
  // The PEM says nothing of its algorithm: an EC P-256 key is ES256, else it is read as RSA.
  for (const alg of ["ES256", "RS256"] as const)
    try {
      return { kid: undefined, alg, key: await importSPKI(pem, alg), from };
    } catch {
      // Try the other.
    }
  throw new TrustError(`CHAMICORE_EDGE_TRUSTED_KEYS (${from}): a PEM key that is neither EC P-256 nor RSA`);
}
