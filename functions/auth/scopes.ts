/**
 * Scope patterns as policies and service-account caps write them: a scope
 * name, or a glob with `*` (`read:*`, `*`), matched the way Casbin's
 * globMatch matches scope names (they hold no `/`).
 */
export function scopeMatches(scope: string, pattern: string): boolean {
  if (pattern === "*" || pattern === scope) return true;
  if (!pattern.includes("*")) return false;
  const re = new RegExp(`^${pattern.split("*").map(escapeRegex).join(".*")}$`);
  return re.test(scope);
}

const escapeRegex = (s: string) => s.replace(/[.+?^${}()|[\]\\]/g, "\\$&");

/** The scopes of `scopes` that some pattern of `cap` allows (`null`: no cap). */
export const capScopes = (scopes: string[], cap: string[] | null) =>
  cap === null ? scopes : scopes.filter((s) => cap.some((p) => scopeMatches(s, p)));
