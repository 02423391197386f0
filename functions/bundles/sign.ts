/** The bundle signature: a JWS over the manifest's bytes with its payload detached (RFC 7515 appendix F). */
import { CompactSign, type CryptoKey, type KeyObject } from "jose";
import { SIGNATURE_TYPE } from "./format";

export interface BundleSigner {
  kid: string;
  alg: "ES256" | "RS256";
  key: CryptoKey | KeyObject | Uint8Array;
}

/** `<header>..<signature>`: the manifest itself is the payload, beside it in the bundle. */
export async function detachedSignature(manifest: Uint8Array, signer: BundleSigner): Promise<string> {
  const [header, , signature] = (
    await new CompactSign(manifest)
      .setProtectedHeader({ alg: signer.alg, kid: signer.kid, typ: SIGNATURE_TYPE })
      .sign(signer.key)
  ).split(".");
  return `${header}..${signature}`;
}
