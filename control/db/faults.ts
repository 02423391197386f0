/**
 * The one place that tells "the database went away" from any other failure.
 * A connection cut, a server restart or a pool that cannot connect is the
 * caller's cue to retry, so requests caught by it answer 503 with
 * Retry-After rather than 500. Node (pg) and the Worker (pg over Hyperdrive,
 * Neon's driver) share it through the control app's error handler.
 */
import { ApiError } from "../../shared/problem";

/** Seconds a client is told to wait: about what a Postgres restart takes. */
export const DATABASE_RETRY_AFTER_SECONDS = 2;

/**
 * SQLSTATEs of a lost or refused connection: class 08 (connection
 * exception), 57P01 admin shutdown (pg_terminate_backend, fast shutdown),
 * 57P02 crash shutdown, 57P03 cannot connect now (starting up), 53300 too
 * many connections.
 */
const CONNECTION_SQLSTATE = /^(08[0-9A-Z]{3}|57P0[123]|53300)$/;

/** errno codes of a socket that could not be opened or was cut. */
const CONNECTION_ERRNO = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "EAI_AGAIN",
]);

/** Messages of the drivers and the pool that carry no code. */
const CONNECTION_MESSAGE = new RegExp(
  [
    "^Connection terminated",
    "connection error and is not queryable",
    "Client was closed and is not queryable",
    "^timeout exceeded when trying to connect",
    "Connection terminated due to connection timeout",
    "the database system is (starting up|shutting down|in recovery mode)",
    "terminating connection due to administrator command",
    // Neon's driver when neither a WebSocket nor its fetch fallback could be opened.
    "All attempts to open a WebSocket to connect to the database failed",
  ].join("|"),
);

/** Whether `err` (or what it wraps) says the connection to the database is lost or cannot be made. */
export function isConnectionFault(err: unknown): boolean {
  const seen = new Set<unknown>();
  const queue: unknown[] = [err];
  while (queue.length > 0 && seen.size < 12) {
    const e = queue.shift();
    if (e === null || typeof e !== "object" || seen.has(e)) continue;
    seen.add(e);
    const { code, message, cause, errors } = e as {
      code?: unknown;
      message?: unknown;
      cause?: unknown;
      errors?: unknown;
    };
    if (typeof code === "string" && (CONNECTION_SQLSTATE.test(code) || CONNECTION_ERRNO.has(code)))
      return true;
    if (typeof message === "string" && CONNECTION_MESSAGE.test(message)) return true;
    // An error event, not an Error: Neon's driver rejects with its WebSocket's
    // ErrorEvent when the socket fails or cannot be opened (proxy down, network lost).
    if (!(e instanceof Error) && (e as { type?: unknown }).type === "error") return true;
    queue.push(cause);
    // A refused connection to a name with several addresses is an AggregateError.
    if (Array.isArray(errors)) queue.push(...errors);
  }
  return false;
}

/** The answer for a request the database failed under: 503 to retry, or undefined (a real 500). */
export function databaseFault(err: unknown): ApiError | undefined {
  if (!isConnectionFault(err)) return undefined;
  return new ApiError("not-ready", "The database is unreachable at the moment; retry shortly", {
    headers: { "Retry-After": String(DATABASE_RETRY_AFTER_SECONDS) },
  });
}
