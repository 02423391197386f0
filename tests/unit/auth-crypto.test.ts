/**
 * Secrets at rest (shared/auth/crypto.ts): sealed values open only with the
 * same master key and purpose and only untampered; the master key is checked
 * without leaking it; client-secret hashes verify the right secret only, are
 * salted, carry their iteration count, and refuse odd input with `false`.
 */
import { describe, expect, it } from "vitest";
import {
  fromBase64,
  generateMasterKey,
  hashSecret,
  importMasterKey,
  PBKDF2_ITERATIONS,
  randomSecret,
  seal,
  toBase64Url,
  unseal,
  verifySecret,
} from "../../shared/auth/crypto";

/** Standard base64 of `n` random bytes. */
const base64Of = (n: number) => btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(n))));

/** `sealed` with one byte of its ciphertext part flipped. */
function flipCiphertextByte(sealed: string): string {
  const [v, iv, ct] = sealed.split(".");
  const bytes = fromBase64(ct!);
  bytes[0] = bytes[0]! ^ 0x01;
  return `${v}.${iv}.${toBase64Url(bytes)}`;
}

describe("base64 helpers", () => {
  it("round-trips every byte value, base64url without padding", () => {
    const all = Uint8Array.from({ length: 256 }, (_, i) => i);
    const text = toBase64Url(all);
    expect(text).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(fromBase64(text)).toEqual(all);
  });

  it("reads standard base64 with padding too", () => {
    expect(new TextDecoder().decode(fromBase64(btoa("hello?>")))).toBe("hello?>");
  });

  it("randomSecret is 43 base64url characters for 32 bytes, and different each time", () => {
    const a = randomSecret();
    expect(a).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(randomSecret()).not.toBe(a);
    expect(fromBase64(randomSecret(16))).toHaveLength(16);
  });
});

describe("importMasterKey", () => {
  it("accepts what generateMasterKey makes, in base64 and base64url, with surrounding whitespace", async () => {
    const b64 = generateMasterKey();
    expect(fromBase64(b64)).toHaveLength(32);
    const key = await importMasterKey(`  ${b64}\n`);
    const urlKey = await importMasterKey(toBase64Url(fromBase64(b64)));
    // Both are the same key: what one seals the other opens.
    expect(await unseal(urlKey, await seal(key, "x", "p"), "p")).toBe("x");
  });

  it.each([31, 33])("refuses a %i-byte key, saying its length and not the key", async (n) => {
    const b64 = base64Of(n);
    const err = await importMasterKey(b64).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toBe(`CHAMICORE_MASTER_KEY must decode to 32 bytes; it decodes to ${n}`);
    expect(err?.message).not.toContain(b64);
  });

  it("refuses text that is not base64 without echoing it", async () => {
    const secretish = "this is not base64! 0123456789abcdef";
    const err = await importMasterKey(secretish).then(
      () => undefined,
      (e: Error) => e,
    );
    expect(err?.message).toBe("CHAMICORE_MASTER_KEY is not base64");
    expect(err?.message).not.toContain(secretish);
  });
});

describe("seal / unseal", () => {
  it("round-trips text, including non-ASCII, in the v1.<iv>.<ct> format", async () => {
    const key = await importMasterKey(generateMasterKey());
    const sealed = await seal(key, "pässwörd ✓", "credential:bmc-1");
    expect(sealed).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+$/);
    expect(sealed).not.toContain("pässwörd");
    expect(await unseal(key, sealed, "credential:bmc-1")).toBe("pässwörd ✓");
  });

  it("does not open under another purpose: a ciphertext copied to another row stays shut", async () => {
    const key = await importMasterKey(generateMasterKey());
    const sealed = await seal(key, "secret", "credential:a");
    await expect(unseal(key, sealed, "credential:b")).rejects.toThrow();
    await expect(unseal(key, sealed, "")).rejects.toThrow();
  });

  it("refuses a ciphertext with one flipped byte", async () => {
    const key = await importMasterKey(generateMasterKey());
    const sealed = await seal(key, "secret", "p");
    await expect(unseal(key, flipCiphertextByte(sealed), "p")).rejects.toThrow();
  });

  it("refuses another master key", async () => {
    const key = await importMasterKey(generateMasterKey());
    const other = await importMasterKey(generateMasterKey());
    const sealed = await seal(key, "secret", "p");
    await expect(unseal(other, sealed, "p")).rejects.toThrow();
  });

  it("seals the same text differently each time (random IV), both opening", async () => {
    const key = await importMasterKey(generateMasterKey());
    const a = await seal(key, "same", "p");
    const b = await seal(key, "same", "p");
    expect(a).not.toBe(b);
    expect(a.split(".")[1]).not.toBe(b.split(".")[1]);
    expect(await unseal(key, a, "p")).toBe("same");
    expect(await unseal(key, b, "p")).toBe("same");
  });

  it("refuses unknown formats by name", async () => {
    const key = await importMasterKey(generateMasterKey());
    const sealed = await seal(key, "secret", "p");
    await expect(unseal(key, sealed.replace(/^v1/, "v2"), "p")).rejects.toThrow(
      "unknown sealed-value format",
    );
    await expect(unseal(key, "v1.onlyiv", "p")).rejects.toThrow("unknown sealed-value format");
  });
});

describe("hashSecret / verifySecret", () => {
  // The only two PBKDF2 runs at the 600k default (about a second each).
  it("uses 600k iterations by default, and such a hash verifies", async () => {
    expect(PBKDF2_ITERATIONS).toBe(600_000);
    const stored = await hashSecret("correct horse");
    expect(stored).toMatch(/^pbkdf2-sha256\$600000\$[A-Za-z0-9_-]{22}\$[A-Za-z0-9_-]{43}$/);
    expect(stored).not.toContain("correct horse");
    expect(await verifySecret("correct horse", stored)).toBe(true);
  });

  it("refuses a wrong secret, however close", async () => {
    const stored = await hashSecret("correct horse", 1000);
    expect(await verifySecret("correct horse", stored)).toBe(true);
    for (const wrong of ["correct horsf", "correct horse ", "Correct horse", ""])
      expect(await verifySecret(wrong, stored), wrong).toBe(false);
  });

  it("salts each hash: the same secret hashes differently, and both verify", async () => {
    const a = await hashSecret("s3cret", 1000);
    const b = await hashSecret("s3cret", 1000);
    expect(a.split("$")[2]).not.toBe(b.split("$")[2]);
    expect(a).not.toBe(b);
    expect(await verifySecret("s3cret", a)).toBe(true);
    expect(await verifySecret("s3cret", b)).toBe(true);
  });

  it("reads the iteration count from the hash, so older, cheaper hashes still verify", async () => {
    const stored = await hashSecret("old secret", 1000);
    expect(stored.split("$")[1]).toBe("1000");
    expect(await verifySecret("old secret", stored)).toBe(true);
    // The count is authenticated by the digest: claiming another count fails.
    expect(await verifySecret("old secret", stored.replace("$1000$", "$1001$"))).toBe(false);
  });

  it("returns false (does not throw) for tampered or unknown hashes", async () => {
    const stored = await hashSecret("s", 1000);
    const [scheme, iter, salt, hash] = stored.split("$") as [string, string, string, string];
    const flip = (s: string) => (s[0] === "A" ? "B" : "A") + s.slice(1);
    const bad = [
      `${scheme}$${iter}$${flip(salt)}$${hash}`,
      `${scheme}$${iter}$${salt}$${flip(hash)}`,
      `${scheme}$${iter}$${salt}$${hash.slice(0, -4)}`,
      `bcrypt$${iter}$${salt}$${hash}`,
      `${scheme}$0$${salt}$${hash}`,
      `${scheme}$-5$${salt}$${hash}`,
      `${scheme}$1.5$${salt}$${hash}`,
      `${scheme}$many$${salt}$${hash}`,
      `${scheme}$${iter}$${salt}`,
      `${scheme}$${iter}$$${hash}`,
      "",
      "s",
    ];
    for (const b of bad) expect(await verifySecret("s", b), b).toBe(false);
  });

  it("returns false for a hash whose parts are not base64", async () => {
    expect(await verifySecret("s", "pbkdf2-sha256$1000$!!!$abc")).toBe(false);
  });
});
