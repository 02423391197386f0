/**
 * The pending login of an identity-provider login: what the browser keeps
 * between the redirect and the answer, read back whole or not at all, and
 * the UI page to open after, never anything outside the UI.
 */
import { describe, expect, it } from "vitest";
import { decodePending, encodePending, type PendingLogin, safeNext } from "../../functions/auth/oidc-login";

describe("the page a login returns to", () => {
  it.each([
    ["/inventory?type=Node", "/inventory?type=Node"],
    ["/", "/"],
    [undefined, "/"],
    ["", "/"],
    ["//evil.example/x", "/"],
    ["/\\evil.example", "/"],
    ["https://evil.example", "/"],
    ["inventory", "/"],
    [`/${"x".repeat(3000)}`, "/"],
  ])("%j opens %j", (next, page) => {
    expect(safeNext(next)).toBe(page);
  });
});

describe("the pending login cookie", () => {
  const pending: PendingLogin = { provider: "corp", state: "s", nonce: "n", verifier: "v", next: "/power" };

  it("reads back what was written, in cookie-safe characters", () => {
    const value = encodePending(pending);
    expect(value).toMatch(/^[A-Za-z0-9+/]+$/);
    expect(decodePending(value)).toEqual(pending);
  });

  it.each([
    ["absent", undefined],
    ["not base64", "%%%"],
    ["not JSON", btoa("nope")],
    ["a field missing", btoa(JSON.stringify({ ...pending, verifier: undefined }))],
    ["a field of another type", btoa(JSON.stringify({ ...pending, state: 1 }))],
  ])("is no login when %s", (_what, value) => {
    expect(decodePending(value)).toBeUndefined();
  });
});
