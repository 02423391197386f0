/**
 * A client for the Kea Control Agent's REST API (Kea 2.2): one POST per
 * command, `{command, service: ["dhcp4"], arguments}`, answered with a
 * one-element array `[{result, text, arguments}]` (a plain object when the
 * agent itself refuses the request with HTTP 400).
 *
 * Result codes, from Kea's documentation: 0 success, 1 error, 2 command not
 * supported, 3 empty (nothing found, e.g. no reservation). Credentials in
 * KEA_CONTROL_URL (`http://user:pass@host:8000`) become HTTP Basic, which
 * the agent checks when `authentication` is configured.
 */

export const KEA_SUCCESS = 0;
export const KEA_EMPTY = 3;

export interface KeaAnswer<A = unknown> {
  result: number;
  text?: string;
  arguments?: A;
}

/** Kea answered, and not with success (or empty, where the caller allows it). */
export class KeaCommandError extends Error {
  constructor(
    readonly command: string,
    readonly result: number,
    readonly text: string,
  ) {
    super(`Kea ${command}: ${text || `result ${result}`}`);
  }
}

/** The agent could not be reached, timed out, or answered something that is not Kea's JSON. */
export class KeaUnreachable extends Error {}

export class KeaClient {
  private readonly url: string;
  private readonly authorization: string | undefined;

  constructor(
    controlUrl: string,
    private readonly timeoutMs = 120_000,
  ) {
    const u = new URL(controlUrl);
    this.authorization =
      u.username || u.password
        ? `Basic ${btoa(`${decodeURIComponent(u.username)}:${decodeURIComponent(u.password)}`)}`
        : undefined;
    u.username = "";
    u.password = "";
    this.url = u.toString();
  }

  /** Where the agent is, without credentials (for logs and status). */
  get where(): string {
    return this.url;
  }

  /** Sends one command to the DHCPv4 server; returns its answer whatever the result code. */
  async send<A = unknown>(command: string, args?: unknown): Promise<KeaAnswer<A>> {
    const body = JSON.stringify({
      command,
      service: ["dhcp4"],
      ...(args === undefined ? {} : { arguments: args }),
    });
    let res: Response;
    try {
      res = await fetch(this.url, {
        method: "POST",
        headers: {
          "Content-Type": "application/json",
          ...(this.authorization ? { Authorization: this.authorization } : {}),
        },
        body,
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (e) {
      throw new KeaUnreachable(`Kea control agent at ${this.url}: ${(e as Error).message}`);
    }
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      throw new KeaUnreachable(
        `Kea control agent at ${this.url} answered HTTP ${res.status} that is not JSON: ${text.slice(0, 200)}`,
      );
    }
    const answer = (Array.isArray(parsed) ? parsed[0] : parsed) as KeaAnswer<A> | undefined;
    if (!answer || typeof answer.result !== "number")
      throw new KeaUnreachable(
        `Kea control agent at ${this.url} answered HTTP ${res.status} without a result`,
      );
    if (res.status === 401 || res.status === 403)
      throw new KeaUnreachable(
        `Kea control agent at ${this.url} refused the credentials: ${answer.text ?? ""}`,
      );
    return answer;
  }

  /** Sends a command and returns its arguments; anything but success (or `allowEmpty`) throws. */
  async call<A = unknown>(command: string, args?: unknown, allowEmpty = false): Promise<A | undefined> {
    const a = await this.send<A>(command, args);
    if (a.result === KEA_SUCCESS || (allowEmpty && a.result === KEA_EMPTY)) return a.arguments;
    throw new KeaCommandError(command, a.result, a.text ?? "");
  }
}
