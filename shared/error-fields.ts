/**
 * What a log line may say about an error. A failed query wrapped by the ORM
 * carries its statement and bind parameters in its message ("Failed query:
 * … params: …"), and parameters hold password hashes, sealed secrets and
 * user-data: such an error is described by the database's own error (its
 * SQLSTATE and message, which hold no parameters) and the statement's verb
 * and table, never by its message or stack. Duck-typed, so it needs no
 * database driver and runs on Node and workerd alike.
 */

interface Wrapped {
  query: string;
  params: unknown;
  cause?: unknown;
}

const isWrappedQuery = (e: unknown): e is Wrapped =>
  typeof e === "object" &&
  e !== null &&
  typeof (e as Wrapped).query === "string" &&
  "params" in (e as object);

/** `insert into "auth"."service_accounts" (…) values ($1, …)` → `insert auth.service_accounts`. */
export function statementOf(query: string): string {
  const verb = /^\s*(\w+)/.exec(query)?.[1]?.toLowerCase() ?? "?";
  const name = /\b(?:into|from|update|join)\s+((?:"[^"]+"|\w+)(?:\.(?:"[^"]+"|\w+))?)/i.exec(query)?.[1];
  return name ? `${verb} ${name.replaceAll('"', "")}` : verb;
}

/** The verb and table of the statement `err` is the failure of, if it is a failed statement. */
export function failedStatement(err: unknown): string | undefined {
  for (let e = err, depth = 0; e && depth < 6; e = (e as { cause?: unknown }).cause, depth++)
    if (isWrappedQuery(e)) return statementOf(e.query);
  return undefined;
}

/** A database's message about a value it refused quotes the value: keep the text before it. */
function dbMessage(message: string, code: string | undefined): string {
  // Class 22 (data exception): 'invalid input syntax for type uuid: "…"'.
  if (code?.startsWith("22")) return message.split(":")[0]!;
  return message;
}

/** Stack frames only: the first lines of a stack repeat the message. */
function framesOf(stack: string | undefined): string | undefined {
  if (!stack) return undefined;
  const frames = stack.split("\n").filter((l) => /^\s+at /.test(l));
  return frames.length ? frames.join("\n") : undefined;
}

/**
 * Log fields for `err`: `err` (a message safe to keep), and when known the
 * SQLSTATE or errno `code`, the `statement` and the database's `table` and
 * `constraint` (names, not values).
 */
export function errorFields(err: unknown, withStack = false): Record<string, unknown> {
  const chain: unknown[] = [];
  for (let e = err; e !== undefined && e !== null && chain.length < 6; e = (e as { cause?: unknown }).cause)
    chain.push(e);
  const wrapped = chain.find(isWrappedQuery);
  const code = chain
    .map((e) => (e as { code?: unknown }).code)
    .find((c): c is string => typeof c === "string" && c.length > 0);
  if (!wrapped) {
    const fields: Record<string, unknown> = {
      err: dbMessage(err instanceof Error ? err.message : String(err), code),
    };
    if (code) fields.code = code;
    if (withStack) fields.stack = framesOf((err as Error | undefined)?.stack);
    return fields;
  }
  // The driver's error under the wrapper, if any: its message names no parameter.
  const cause = chain[chain.indexOf(wrapped) + 1] as
    | { message?: unknown; table?: unknown; constraint?: unknown; stack?: string }
    | undefined;
  const fields: Record<string, unknown> = {
    err:
      cause && typeof cause.message === "string"
        ? dbMessage(cause.message, code)
        : "a database statement failed",
    statement: statementOf(wrapped.query),
  };
  if (code) fields.code = code;
  if (typeof cause?.table === "string") fields.table = cause.table;
  if (typeof cause?.constraint === "string") fields.constraint = cause.constraint;
  if (withStack) fields.stack = framesOf(cause?.stack ?? (err as Error).stack);
  return fields;
}

/** The safe message alone, for places that store or show one string. */
export const safeErrorMessage = (err: unknown): string => String(errorFields(err).err);
