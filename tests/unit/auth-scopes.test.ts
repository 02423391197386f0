/**
 * Scope patterns (functions/auth/scopes.ts): `*` globs match as policies and
 * service-account caps intend, everything else is literal, and capScopes
 * keeps exactly the scopes some pattern allows.
 */
import { describe, expect, it } from "vitest";
import { capScopes, scopeMatches } from "../../functions/auth/scopes";

describe("scopeMatches", () => {
  it("matches a prefix glob within its prefix only", () => {
    expect(scopeMatches("read:components", "read:*")).toBe(true);
    expect(scopeMatches("read:boot", "read:*")).toBe(true);
    expect(scopeMatches("write:components", "read:*")).toBe(false);
    expect(scopeMatches("xread:components", "read:*")).toBe(false);
  });

  it("matches suffix and inner globs anchored at both ends", () => {
    expect(scopeMatches("write:components", "*:components")).toBe(true);
    expect(scopeMatches("write:components:extra", "*:components")).toBe(false);
    expect(scopeMatches("admin:auth", "a*h")).toBe(true);
    expect(scopeMatches("admin:auth:x", "a*h")).toBe(false);
  });

  it("lets `*` match everything", () => {
    for (const s of ["read:components", "admin:auth", "", "a.b"]) expect(scopeMatches(s, "*")).toBe(true);
  });

  it("matches a plain pattern exactly", () => {
    expect(scopeMatches("read:components", "read:components")).toBe(true);
    expect(scopeMatches("read:component", "read:components")).toBe(false);
    expect(scopeMatches("read:componentsX", "read:components")).toBe(false);
    expect(scopeMatches("READ:components", "read:components")).toBe(false);
  });

  it("takes regex metacharacters in patterns literally", () => {
    // `.` is not "any character".
    expect(scopeMatches("readXcomponents", "read.components")).toBe(false);
    expect(scopeMatches("readXcomponents", "read.*")).toBe(false);
    expect(scopeMatches("read.components", "read.*")).toBe(true);
    // `+`, `?`, `(`, `|`, `[`, `$`, `^`, `\` are not operators.
    expect(scopeMatches("reeead:x", "re+ad:*")).toBe(false);
    expect(scopeMatches("re+ad:x", "re+ad:*")).toBe(true);
    expect(scopeMatches("rad:x", "re?ad:*")).toBe(false);
    expect(scopeMatches("write:x", "(read|write):*")).toBe(false);
    expect(scopeMatches("(read|write):x", "(read|write):*")).toBe(true);
    expect(scopeMatches("r:x", "[rw]:*")).toBe(false);
    expect(scopeMatches("[rw]:x", "[rw]:*")).toBe(true);
    expect(scopeMatches("a:x", "^a$:*")).toBe(false);
    expect(scopeMatches("^a$:x", "^a$:*")).toBe(true);
    expect(scopeMatches("a\\d:1", "a\\d:*")).toBe(true);
    expect(scopeMatches("a1:1", "a\\d:*")).toBe(false);
    expect(scopeMatches("aa:x", "a{2}:*")).toBe(false);
  });
});

describe("capScopes", () => {
  const scopes = ["read:components", "write:components", "read:boot", "admin:auth"];

  it("keeps every scope when there is no cap (null)", () => {
    expect(capScopes(scopes, null)).toEqual(scopes);
  });

  it("keeps nothing under an empty cap", () => {
    expect(capScopes(scopes, [])).toEqual([]);
  });

  it("keeps the scopes some pattern allows, in their order", () => {
    expect(capScopes(scopes, ["read:*"])).toEqual(["read:components", "read:boot"]);
    expect(capScopes(scopes, ["admin:auth", "write:*"])).toEqual(["write:components", "admin:auth"]);
    expect(capScopes(scopes, ["*"])).toEqual(scopes);
    expect(capScopes(scopes, ["read:nothing", "delete:*"])).toEqual([]);
  });
});
