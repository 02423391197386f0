/**
 * How many transfers run at once, per client address and in total, so that
 * one node stuck in a loop, or a rack powering on together, cannot take
 * every socket and file descriptor the edge has (each transfer holds one of
 * each until it ends or times out).
 */

/** A booting node fetches one binary at a time; a few cover firmware that probes (tsize) first. */
export const DEFAULT_MAX_PER_CLIENT = 4;
/** Each transfer of undionly.kpxe is ~50 round trips at blksize 1468: a thousand at once clear quickly. */
export const DEFAULT_MAX_TRANSFERS = 1000;

export class TransferSlots {
  private readonly byClient = new Map<string, number>();
  private count = 0;

  constructor(
    readonly perClient = DEFAULT_MAX_PER_CLIENT,
    readonly total = DEFAULT_MAX_TRANSFERS,
  ) {}

  get active(): number {
    return this.count;
  }

  /** Takes a slot for `client`; says which bound is full when none is left. */
  take(client: string): "per-client" | "total" | undefined {
    const mine = this.byClient.get(client) ?? 0;
    if (mine >= this.perClient) return "per-client";
    if (this.count >= this.total) return "total";
    this.byClient.set(client, mine + 1);
    this.count++;
    return undefined;
  }

  /** Gives back a slot `take` gave `client`. */
  give(client: string): void {
    const mine = this.byClient.get(client) ?? 0;
    if (mine <= 1) this.byClient.delete(client);
    else this.byClient.set(client, mine - 1);
    this.count--;
  }
}
