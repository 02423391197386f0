/**
 * What the edge asks of the control plane: a token (client credentials, or
 * a dev-mode token when no credentials are configured), the snapshot, the
 * change feed, and the agent endpoints the edge's work agent reports to.
 */
import { createWriteStream } from "node:fs";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";
import { type ApiClient, createClient, unwrap } from "../shared/client";
import type { ChangeEvent } from "../shared/events";
import { activeTraceparent } from "../shared/tracing";
import { SnapshotDocument } from "./replica/snapshot-document";

export class SnapshotNeeded extends Error {}

export interface ChangePage {
  events: ChangeEvent[];
  next: number;
  head: number;
  /** The control plane's id (absent from one older than bundles). */
  source: string | undefined;
}

/** What `ApiClient` calls resolve to. */
type Answer<T> = { data?: T; error?: unknown; response: Response };

export class ControlClient {
  private token: { value: string; until: number } | undefined;
  /**
   * The control API, typed by the same generated client as the CLI's: a
   * path, parameter or body the API does not have fails to compile. Each
   * request carries a token and the timeout; one 401 gets one fresh token.
   */
  readonly api: ApiClient;

  constructor(
    private readonly base: string,
    private readonly credentials: { id: string; secret: string } | undefined,
    private readonly timeoutMs = 30_000,
  ) {
    this.api = createClient({ endpoint: base, fetch: (req) => this.send(req) });
  }

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

  /** One request with a token and a timeout (and the request's own signal). */
  private async send(request: Request, timeoutMs = this.timeoutMs): Promise<Response> {
    // The edge sends small JSON documents: read once, they can go twice.
    const body = request.body ? await request.arrayBuffer() : undefined;
    const attempt = async () => {
      const headers = new Headers(request.headers);
      headers.set("Authorization", `Bearer ${await this.accessToken()}`);
      // Inside traced work (a power job), the control plane's answer is a span of the same trace.
      const traceparent = activeTraceparent();
      if (traceparent) headers.set("traceparent", traceparent);
      return fetch(request.url, {
        method: request.method,
        headers,
        body,
        signal: AbortSignal.any([request.signal, AbortSignal.timeout(timeoutMs)]),
      });
    };
    const res = await attempt();
    if (res.status !== 401) return res;
    // Revoked, rotated away or expired early: one fresh token, then give up.
    await res.body?.cancel();
    this.token = undefined;
    return attempt();
  }

  /**
   * The data of a typed call (`control.call(control.api.POST(…))`), or the
   * client's `ApiProblem` carrying the status and the problem.
   */
  async call<T>(answer: Promise<Answer<T>>): Promise<T> {
    return (await unwrap(answer)).data;
  }

  /**
   * Spools the snapshot to `path` as it arrives and opens it there, to be
   * parsed one resource at a time as the replica writes it
   * (./replica/snapshot-document.ts). The caller closes and removes it.
   */
  async snapshot(path: string): Promise<SnapshotDocument> {
    // A big site's snapshot takes longer than one feed request: ten times the timeout, for the whole body.
    const res = await this.send(new Request(`${this.base}/events/v1/snapshot`), this.timeoutMs * 10);
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
    const answer = this.api.GET("/events/v1/changes", { params: { query: { after, limit } } });
    const { response } = await answer;
    if (response.status === 410) throw new SnapshotNeeded(`events after ${after} were pruned`);
    const body = await this.call(answer);
    // Every event carries `data`; the schema's `unknown` makes it optional in the generated type.
    const events: ChangeEvent[] = body.items.map((e) => ({ ...e, data: e.data }));
    return { events, next: body.metadata.next, head: body.metadata.head, source: body.metadata.source };
  }
}
