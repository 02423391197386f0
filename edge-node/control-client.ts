/**
 * What the edge asks of the control plane: a token (client credentials, or
 * a dev-mode token when no credentials are configured), the snapshot, the
 * change feed, and the agent endpoints the edge's work agent reports to.
 */
import { createWriteStream } from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";
import type { ChangeEvent } from "../shared/events";
import { SnapshotDocument } from "./replica/snapshot-document";

export class SnapshotNeeded extends Error {}

/** The control plane answered a request with an error status. */
export class ControlRefused extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export interface ChangePage {
  events: ChangeEvent[];
  next: number;
  head: number;
}

export class ControlClient {
  private token: { value: string; until: number } | undefined;

  constructor(
    private readonly base: string,
    private readonly credentials: { id: string; secret: string } | undefined,
    private readonly timeoutMs = 30_000,
  ) {}

  private async accessToken(): Promise<string> {
    if (this.token && Date.now() < this.token.until) return this.token.value;
    const headers: Record<string, string> = { "Content-Type": "application/x-www-form-urlencoded" };
    if (this.credentials)
      headers.Authorization = `Basic ${btoa(`${encodeURIComponent(this.credentials.id)}:${encodeURIComponent(this.credentials.secret)}`)}`;
    const res = await fetch(`${this.base}/auth/v1/token`, {
      method: "POST",
      headers,
      body: "grant_type=client_credentials",
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    const body = (await res.json().catch(() => ({}))) as {
      access_token?: string;
      expires_in?: number;
      error_description?: string;
    };
    if (!res.ok || !body.access_token)
      throw new Error(
        `control plane refused a token (${res.status}): ${body.error_description ?? "no detail"}${this.credentials ? "" : "; set CHAMICORE_EDGE_CLIENT_ID/_SECRET"}`,
      );
    // Renew a minute early so a request never carries a token that expires in flight.
    this.token = { value: body.access_token, until: Date.now() + ((body.expires_in ?? 300) - 60) * 1000 };
    return body.access_token;
  }

  private async get(path: string, timeoutMs = this.timeoutMs): Promise<Response> {
    return this.send("GET", path, undefined, timeoutMs);
  }

  private async send(
    method: string,
    path: string,
    body: unknown,
    timeoutMs = this.timeoutMs,
  ): Promise<Response> {
    const send = async () =>
      fetch(`${this.base}${path}`, {
        method,
        headers: {
          Authorization: `Bearer ${await this.accessToken()}`,
          ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(timeoutMs),
      });
    let res = await send();
    if (res.status === 401) {
      // Revoked, rotated away or expired early: one fresh token, then give up.
      this.token = undefined;
      res = await send();
    }
    return res;
  }

  /**
   * POSTs `body` as JSON and answers the parsed JSON (undefined for 204).
   * A refusal throws a `ControlRefused` with the problem's detail.
   */
  async post<T>(path: string, body: unknown): Promise<T> {
    const res = await this.send("POST", path, body);
    const text = await res.text();
    if (!res.ok) {
      let detail = text.slice(0, 500);
      try {
        const p = JSON.parse(text) as { detail?: string; title?: string };
        detail = p.detail ?? p.title ?? detail;
      } catch {}
      throw new ControlRefused(res.status, `POST ${path}: ${res.status} ${detail}`);
    }
    return (text ? JSON.parse(text) : undefined) as T;
  }

  /** GETs `path` and answers the parsed JSON; a refusal throws a `ControlRefused`. */
  async getJson<T>(path: string): Promise<T> {
    const res = await this.get(path);
    if (!res.ok) {
      await res.body?.cancel();
      throw new ControlRefused(res.status, `GET ${path}: ${res.status}`);
    }
    return (await res.json()) as T;
  }

  /** PUTs `body` as JSON; a refusal throws a `ControlRefused`. */
  async put(path: string, body: unknown): Promise<void> {
    const res = await this.send("PUT", path, body);
    await res.body?.cancel();
    if (!res.ok) throw new ControlRefused(res.status, `PUT ${path}: ${res.status}`);
  }

  /**
   * Spools the snapshot to `path` as it arrives and opens it there, to be
   * parsed one resource at a time as the replica writes it
   * (./replica/snapshot-document.ts). The caller closes and removes it.
   */
  async snapshot(path: string): Promise<SnapshotDocument> {
    // A big site's snapshot takes longer than one feed request: ten times the timeout, for the whole body.
    const res = await this.get("/events/v1/snapshot", this.timeoutMs * 10);
    if (!res.ok) throw new Error(`snapshot failed: ${res.status} ${await res.text()}`);
    if (!res.body) throw new Error("snapshot failed: empty answer");
    await pipeline(Readable.fromWeb(res.body as NodeReadableStream), createWriteStream(path));
    return SnapshotDocument.open(path);
  }

  /**
   * Whether the control plane is up and ready to answer (`/readiness`, which
   * needs no token): the cheap probe an edge makes while it is cut off.
   */
  async ready(timeoutMs: number): Promise<boolean> {
    try {
      const res = await fetch(`${this.base}/readiness`, { signal: AbortSignal.timeout(timeoutMs) });
      await res.body?.cancel();
      return res.ok;
    } catch {
      return false;
    }
  }

  /** Events after `after`; throws SnapshotNeeded when the control plane has pruned them. */
  async changes(after: number, limit = 1000): Promise<ChangePage> {
    const res = await this.get(`/events/v1/changes?after=${after}&limit=${limit}`);
    if (res.status === 410) throw new SnapshotNeeded(`events after ${after} were pruned`);
    if (!res.ok) throw new Error(`change feed failed: ${res.status} ${await res.text()}`);
    const body = (await res.json()) as { items: ChangeEvent[]; metadata: { next: number; head: number } };
    return { events: body.items, next: body.metadata.next, head: body.metadata.head };
  }
}
