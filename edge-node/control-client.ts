/**
 * What the edge asks of the control plane: a token (client credentials, or
 * a dev-mode token when no credentials are configured), the snapshot, and
 * the change feed.
 */
import type { Snapshot } from "../functions/events/store";
import type { ChangeEvent } from "../shared/events";

export class SnapshotNeeded extends Error {}

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

  private async get(path: string): Promise<Response> {
    const send = async () =>
      fetch(`${this.base}${path}`, {
        headers: { Authorization: `Bearer ${await this.accessToken()}` },
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    let res = await send();
    if (res.status === 401) {
      // Revoked, rotated away or expired early: one fresh token, then give up.
      this.token = undefined;
      res = await send();
    }
    return res;
  }

  async snapshot(): Promise<Snapshot> {
    const res = await this.get("/events/v1/snapshot");
    if (!res.ok) throw new Error(`snapshot failed: ${res.status} ${await res.text()}`);
    return (await res.json()) as Snapshot;
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
