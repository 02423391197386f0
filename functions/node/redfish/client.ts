/**
 * A Redfish client for one BMC, used by the edge agent for discovery and
 * power control.
 *
 * Auth is HTTP Basic (stateless, the default) or a Redfish session: log in
 * on first use with `POST /redfish/v1/SessionService/Sessions`, send the
 * `X-Auth-Token` after that, log in again once when the BMC forgets the
 * session (a 401 with a token that was valid), and `close()` deletes it.
 * Sessions are worth it on BMCs where every Basic request re-runs a slow
 * password check; they are a limited resource on the BMC, hence `close()`.
 *
 * TLS is verified unless this BMC is marked `insecure` (most BMCs ship a
 * self-signed certificate; pinning its CA with `ca` is the better fix).
 *
 * Failures that may pass (no answer, a timeout, 5xx except 501, 429) are
 * retried up to `maxAttempts` in all, after an exponential backoff with full
 * jitter, or after the BMC's `Retry-After` when it gives one. Everything
 * else fails at once with one of the errors of `./errors`.
 */

import { backoffDelay } from "../../../shared/backoff";
import { abortableSleep } from "../../../shared/sleeper";
import { inTrace, type Span } from "../../../shared/tracing";
import {
  RedfishError,
  RedfishHttpError,
  RedfishMalformed,
  RedfishNotFound,
  RedfishUnauthorized,
  RedfishUnreachable,
  redfishErrorText,
} from "../../redfish/errors";
import type { RedfishReader } from "../../redfish/reader";
import { BmcConnection, type HttpAnswer, TransportError } from "./http";

export interface RedfishCredentials {
  username: string;
  password: string;
}

export type RedfishAuthMode = "basic" | "session";

export interface RedfishClientOptions {
  /** `https://host`, `https://host:port` or `http://host:port`; any path is ignored. */
  baseUrl: string;
  credentials: RedfishCredentials;
  /** `basic` (default) or `session`. */
  auth?: RedfishAuthMode;
  /** Accept any certificate from this BMC. Off by default. */
  insecure?: boolean;
  /** PEM CA(s) that this BMC's certificate must chain to, instead of the system's. */
  ca?: string;
  /** Per attempt: connect, TLS, answer and body. Default 30 s. */
  timeoutMs?: number;
  /** Attempts in all for a retryable failure (1 = no retry). Default 3. */
  maxAttempts?: number;
  /** First backoff ceiling; doubles per attempt. Default 500 ms. */
  backoffMs?: number;
  /** Largest backoff ceiling. Default 10 s. */
  maxBackoffMs?: number;
  /** A `Retry-After` longer than this is not waited for: the error is thrown. Default 60 s. */
  maxRetryAfterMs?: number;
  /** For tests: [0, 1) like Math.random, and a sleep. */
  random?: () => number;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
}

/** Per call. */
export interface RedfishRequestOptions {
  /** Stops waiting: the request in flight is dropped and no retry follows. */
  signal?: AbortSignal;
}

const SESSIONS_PATH = "/redfish/v1/SessionService/Sessions";

interface Session {
  token: string;
  /** The session's URI, for the DELETE that logs out. */
  location: string | undefined;
}

/** A Redfish client for one BMC; it is discovery's `RedfishReader`, and the power engine's `PowerClient`. */
export class RedfishClient implements RedfishReader {
  /** Where the BMC is, without credentials (for logs and errors). */
  readonly where: string;
  private readonly connection: BmcConnection;
  private readonly auth: RedfishAuthMode;
  private readonly basic: string;
  private readonly timeoutMs: number;
  private readonly maxAttempts: number;
  private readonly backoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly maxRetryAfterMs: number;
  private readonly random: () => number;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** The login in progress or done, shared by concurrent requests. */
  private session: Promise<Session> | undefined;

  constructor(private readonly options: RedfishClientOptions) {
    const base = new URL(options.baseUrl);
    this.where = base.origin;
    this.connection = new BmcConnection(base, { insecure: options.insecure, ca: options.ca });
    this.auth = options.auth ?? "basic";
    const { username, password } = options.credentials;
    this.basic = `Basic ${Buffer.from(`${username}:${password}`).toString("base64")}`;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 3);
    this.backoffMs = options.backoffMs ?? 500;
    this.maxBackoffMs = options.maxBackoffMs ?? 10_000;
    this.maxRetryAfterMs = options.maxRetryAfterMs ?? 60_000;
    this.random = options.random ?? Math.random;
    this.sleep = options.sleep ?? abortableSleep;
  }

  /** GETs a resource (a path such as `/redfish/v1/Systems`, or an `@odata.id`); always a JSON object. */
  async get<T = unknown>(path: string, options: RedfishRequestOptions = {}): Promise<T> {
    const p = normalizePath(path);
    const answer = await this.request("GET", p, undefined, options.signal);
    return parseObject(this.where, p, answer) as T;
  }

  /** POSTs a JSON body (an action, usually); returns the parsed answer, or undefined when it has none. */
  async post<T = unknown>(
    path: string,
    body: unknown,
    options: RedfishRequestOptions = {},
  ): Promise<T | undefined> {
    const p = normalizePath(path);
    const answer = await this.request("POST", p, JSON.stringify(body ?? {}), options.signal);
    if (!answer.body.trim()) return undefined;
    return parseObject(this.where, p, answer) as T;
  }

  /** The `@odata.id` of each member of a collection. */
  async members(collectionPath: string, options: RedfishRequestOptions = {}): Promise<string[]> {
    const c = await this.get<{ Members?: unknown }>(collectionPath, options);
    if (!Array.isArray(c.Members))
      throw new RedfishMalformed(this.where, normalizePath(collectionPath), "a collection without Members");
    return c.Members.map((m) => (m as { "@odata.id"?: unknown })?.["@odata.id"]).filter(
      (id): id is string => typeof id === "string",
    );
  }

  /** Logs out of the session, if one was opened, and drops the connections. Never throws. */
  async close(): Promise<void> {
    const pending = this.session;
    this.session = undefined;
    try {
      const s = await pending?.catch(() => undefined);
      if (s?.location)
        await this.connection
          .exchange({
            method: "DELETE",
            path: normalizePath(s.location),
            headers: { "X-Auth-Token": s.token, Accept: "application/json" },
            timeoutMs: Math.min(this.timeoutMs, 5_000),
          })
          .catch(() => undefined);
    } finally {
      this.connection.close();
    }
  }

  /** An authenticated request; with sessions, logs in again once if the BMC forgot ours. */
  private async request(method: string, path: string, body: string | undefined, signal?: AbortSignal) {
    if (this.auth === "basic") return this.checked(method, path, body, { Authorization: this.basic }, signal);
    // The login is shared by concurrent requests, so no one caller's signal may cancel it.
    const current = this.login();
    const s = await current;
    try {
      return await this.checked(method, path, body, { "X-Auth-Token": s.token }, signal);
    } catch (e) {
      if (!(e instanceof RedfishUnauthorized) || e.status !== 401) throw e;
      // Only the first request to see the stale token logs in again; the others reuse its login.
      if (this.session === current) this.session = undefined;
      const fresh = await this.login();
      return this.checked(method, path, body, { "X-Auth-Token": fresh.token }, signal);
    }
  }

  private login(): Promise<Session> {
    if (!this.session) {
      const attempt = this.createSession();
      this.session = attempt;
      // A failed login is not cached: the next request tries again.
      attempt.catch(() => {
        if (this.session === attempt) this.session = undefined;
      });
    }
    return this.session;
  }

  private async createSession(): Promise<Session> {
    const { username, password } = this.options.credentials;
    const answer = await this.checked(
      "POST",
      SESSIONS_PATH,
      JSON.stringify({ UserName: username, Password: password }),
      {},
    );
    const token = header(answer, "x-auth-token");
    if (!token)
      throw new RedfishMalformed(this.where, SESSIONS_PATH, `HTTP ${answer.status} without X-Auth-Token`);
    const location =
      header(answer, "location") ??
      ((): string | undefined => {
        try {
          const id = (JSON.parse(answer.body) as { "@odata.id"?: unknown })["@odata.id"];
          return typeof id === "string" ? id : undefined;
        } catch {
          return undefined;
        }
      })();
    return { token, location };
  }

  /**
   * One request with retries; any answer but 2xx becomes the matching error.
   * Inside traced work (a traced power transition or scan) it is a client
   * span of that trace, retries included; never with the credentials.
   */
  private checked(
    method: string,
    path: string,
    body: string | undefined,
    auth: Record<string, string>,
    signal?: AbortSignal,
  ): Promise<HttpAnswer> {
    const url = new URL(path, this.where);
    return inTrace(
      `Redfish ${method}`,
      {
        "http.request.method": method,
        "url.full": url.href,
        "server.address": url.hostname,
        ...(url.port ? { "server.port": Number(url.port) } : {}),
      },
      (span) => this.attempts(method, path, body, auth, signal, span),
    );
  }

  private async attempts(
    method: string,
    path: string,
    body: string | undefined,
    auth: Record<string, string>,
    signal: AbortSignal | undefined,
    span: Span | undefined,
  ): Promise<HttpAnswer> {
    const headers: Record<string, string> = { Accept: "application/json", "OData-Version": "4.0", ...auth };
    if (body !== undefined) headers["Content-Type"] = "application/json";
    for (let attempt = 1; ; attempt++) {
      if (attempt > 1) span?.setAttribute("http.request.resend_count", attempt - 1);
      let answer: HttpAnswer;
      try {
        answer = await this.connection.exchange({
          method,
          path,
          headers,
          body,
          timeoutMs: this.timeoutMs,
          signal,
        });
      } catch (e) {
        if (!(e instanceof TransportError)) throw e;
        if (e.aborted)
          throw new RedfishError(`Redfish ${this.where}: ${method} ${path} aborted`, this.where, path);
        if (!e.retryable || attempt >= this.maxAttempts)
          throw new RedfishUnreachable(this.where, path, attempt, e.message);
        await this.wait(this.backoff(attempt), method, path, signal);
        continue;
      }
      span?.setAttribute("http.response.status_code", answer.status);
      if (answer.status >= 200 && answer.status < 300) return answer;
      const detail = errorDetail(answer.body);
      if (answer.status === 401 || answer.status === 403)
        throw new RedfishUnauthorized(this.where, path, answer.status, detail);
      if (answer.status === 404) throw new RedfishNotFound(this.where, path);
      const retryable = answer.status === 429 || (answer.status >= 500 && answer.status !== 501);
      const retryAfter = retryAfterMs(header(answer, "retry-after"));
      if (!retryable || attempt >= this.maxAttempts || (retryAfter ?? 0) > this.maxRetryAfterMs)
        throw new RedfishHttpError(this.where, path, method, answer.status, detail, attempt);
      await this.wait(retryAfter ?? this.backoff(attempt), method, path, signal);
    }
  }

  /** Full jitter, so a fleet of agents does not retry in step. */
  private backoff(attempt: number): number {
    return backoffDelay(attempt, {
      firstMs: this.backoffMs,
      maxMs: this.maxBackoffMs,
      jitter: 1,
      random: this.random,
    });
  }

  private async wait(ms: number, method: string, path: string, signal?: AbortSignal) {
    await this.sleep(ms, signal);
    if (signal?.aborted)
      throw new RedfishError(`Redfish ${this.where}: ${method} ${path} aborted`, this.where, path);
  }
}

/** `/redfish/v1/Systems/` or `https://bmc/redfish/v1/Systems#/x` → `/redfish/v1/Systems`. */
export function normalizePath(path: string): string {
  let p = path;
  if (/^https?:\/\//i.test(p)) {
    const u = new URL(p);
    p = u.pathname + u.search;
  }
  const hash = p.indexOf("#");
  if (hash >= 0) p = p.slice(0, hash);
  if (!p.startsWith("/")) p = `/${p}`;
  return p.length > 1 ? p.replace(/\/+(?=\?|$)/, "") : p;
}

function header(answer: HttpAnswer, name: string): string | undefined {
  const v = answer.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

/** Retry-After in seconds or as an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000;
  const at = Date.parse(value);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The Redfish error text of an error answer, else the start of its body. */
function errorDetail(body: string): string {
  try {
    const text = redfishErrorText(JSON.parse(body));
    if (text) return text;
  } catch {
    // Not JSON: fall through to the raw text.
  }
  return body.trim().slice(0, 200);
}

function parseObject(where: string, path: string, answer: HttpAnswer): object {
  let parsed: unknown;
  try {
    parsed = JSON.parse(answer.body);
  } catch {
    const start = answer.body.trim().slice(0, 80);
    throw new RedfishMalformed(
      where,
      path,
      `HTTP ${answer.status} that is not JSON${start ? `: ${start}` : " (empty)"}`,
    );
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed))
    throw new RedfishMalformed(where, path, `HTTP ${answer.status} with JSON that is not an object`);
  return parsed;
}
