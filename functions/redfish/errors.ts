/**
 * What can go wrong talking to a BMC, one class per thing a caller decides
 * on: bad credentials (fix the secret, do not retry), a missing resource (a
 * different model or firmware), an answer that is not Redfish's JSON, a BMC
 * that could not be reached, and any other HTTP error with the BMC's own
 * words. Every message names the BMC and the path, because one agent talks
 * to hundreds of them and the message is often all an operator sees.
 */

/** Base of every Redfish client error; `bmc` is the base URL, without credentials. */
export class RedfishError extends Error {
  constructor(
    message: string,
    readonly bmc: string,
    readonly path: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** 401 or 403: the credentials (or the session) were refused. Never retried. */
export class RedfishUnauthorized extends RedfishError {
  constructor(
    bmc: string,
    path: string,
    readonly status: number,
    detail: string,
  ) {
    super(
      `Redfish ${bmc}: ${path} refused the credentials (HTTP ${status})${detail ? `: ${detail}` : ""}`,
      bmc,
      path,
    );
  }
}

/** 404: the BMC has no such resource. */
export class RedfishNotFound extends RedfishError {
  constructor(bmc: string, path: string) {
    super(`Redfish ${bmc}: ${path} not found (HTTP 404)`, bmc, path);
  }
}

/** A success whose body is not JSON, or not the JSON object Redfish always answers with. */
export class RedfishMalformed extends RedfishError {
  constructor(bmc: string, path: string, what: string) {
    super(`Redfish ${bmc}: ${path} answered ${what}`, bmc, path);
  }
}

/**
 * No HTTP answer: connection refused or reset, a timeout, a TLS certificate
 * that is not trusted. `attempts` is how many were made (1 when the cause
 * is one that retrying cannot fix, such as the certificate).
 */
export class RedfishUnreachable extends RedfishError {
  constructor(
    bmc: string,
    path: string,
    readonly attempts: number,
    readonly lastCause: string,
  ) {
    super(
      `Redfish ${bmc}: ${path} unreachable after ${attempts} attempt${attempts === 1 ? "" : "s"}: ${lastCause}`,
      bmc,
      path,
    );
  }
}

/**
 * Any other HTTP error (400, 405, 5xx, 429 once retries are spent), with the
 * Redfish `error.message` and `@Message.ExtendedInfo` texts when the BMC
 * gave them: they usually say exactly what was wrong with the request.
 */
export class RedfishHttpError extends RedfishError {
  constructor(
    bmc: string,
    path: string,
    readonly method: string,
    readonly status: number,
    readonly detail: string,
    readonly attempts: number,
  ) {
    const tries = attempts > 1 ? ` (after ${attempts} attempts)` : "";
    super(
      `Redfish ${bmc}: ${method} ${path} answered HTTP ${status}${tries}${detail ? `: ${detail}` : ""}`,
      bmc,
      path,
    );
  }
}

/**
 * The human text of a Redfish error body: `error.message` followed by each
 * `@Message.ExtendedInfo` Message (and Resolution), duplicates dropped.
 * Empty when the body is not a Redfish error.
 */
export function redfishErrorText(body: unknown): string {
  const error = (body as { error?: unknown } | null)?.error as
    | { message?: unknown; "@Message.ExtendedInfo"?: unknown }
    | undefined;
  if (!error || typeof error !== "object") return "";
  const parts: string[] = [];
  const add = (s: unknown) => {
    if (typeof s === "string" && s.trim() && !parts.includes(s.trim())) parts.push(s.trim());
  };
  add(error.message);
  const info = error["@Message.ExtendedInfo"];
  if (Array.isArray(info))
    for (const i of info) {
      add((i as { Message?: unknown })?.Message);
      add((i as { Resolution?: unknown })?.Resolution);
    }
  return parts.join("; ");
}
