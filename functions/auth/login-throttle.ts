/**
 * The token endpoint's brake on secret guessing: failed client-credentials
 * logins are counted per client id and per source address, each in a fixed
 * window; once a key has spent its budget, every attempt under it is
 * refused with 429 and Retry-After (RFC 6585) until the window ends, even
 * one with the right secret, or guessing would go on undisturbed.
 *
 * An attempt takes its budget before its secret is checked and gives it
 * back when the login succeeds: concurrent guesses cannot all slip past a
 * count that only grows after each slow hash, and successful logins cost
 * nothing.
 */

/** Failures allowed per window; 0 turns a limit off. */
export interface LoginLimits {
  perClient: number;
  perAddress: number;
  /** Window length, seconds. */
  windowSeconds: number;
}

export const DEFAULT_LOGIN_LIMITS: LoginLimits = { perClient: 10, perAddress: 30, windowSeconds: 60 };

/** Who is trying: the client id, and the source address when the runtime knows it. */
export interface LoginAttempt {
  clientId: string;
  address: string | undefined;
}

/** Where the counts are kept: one process's memory, or something shared. */
export interface LoginThrottle {
  /**
   * Counts the attempt against its keys, unless one of them has spent its
   * budget: then nothing is counted and the answer is the seconds until the
   * earliest moment it may try again (>= 1). 0: go ahead.
   */
  acquire(attempt: LoginAttempt, now: number): Promise<number>;
  /** The attempt succeeded: gives back what `acquire` counted. */
  release(attempt: LoginAttempt, now: number): Promise<void>;
  /** The attempt failed (its count stays); a shared limiter counts it there too. */
  failed(attempt: LoginAttempt, now: number): Promise<void>;
}

interface Window {
  start: number;
  count: number;
}

/**
 * Counts in this process (this isolate on Workers). Memory is bounded: at
 * most `maxKeys` keys are kept, the ones that failed most recently.
 */
export class MemoryLoginThrottle implements LoginThrottle {
  private readonly windows = new Map<string, Window>();
  private readonly windowMs: number;

  constructor(
    private readonly limits: LoginLimits = DEFAULT_LOGIN_LIMITS,
    private readonly maxKeys = 10_000,
  ) {
    this.windowMs = limits.windowSeconds * 1000;
  }

  /** Keys with a limit, and that limit. */
  private keysOf(a: LoginAttempt): [string, number][] {
    const keys: [string, number][] = [];
    // No account id is longer than 255 characters: longer ones share a key, and memory stays bounded.
    if (this.limits.perClient > 0) keys.push([`client:${a.clientId.slice(0, 256)}`, this.limits.perClient]);
    // An unknown address (a runtime that cannot tell) is not one shared key: the client id still limits.
    if (this.limits.perAddress > 0 && a.address) keys.push([`address:${a.address}`, this.limits.perAddress]);
    return keys;
  }

  private live(key: string, now: number): Window | undefined {
    const w = this.windows.get(key);
    return w && now < w.start + this.windowMs ? w : undefined;
  }

  async acquire(attempt: LoginAttempt, now: number): Promise<number> {
    const keys = this.keysOf(attempt);
    let wait = 0;
    for (const [key, limit] of keys) {
      const w = this.live(key, now);
      if (w && w.count >= limit) wait = Math.max(wait, w.start + this.windowMs - now);
    }
    if (wait > 0) return Math.max(1, Math.ceil(wait / 1000));
    for (const [key] of keys) {
      const w = this.live(key, now) ?? { start: now, count: 0 };
      w.count++;
      // Re-inserted, so the map's order is that of the latest failure: the front is what to evict.
      this.windows.delete(key);
      this.windows.set(key, w);
    }
    this.evict(now);
    return 0;
  }

  async release(attempt: LoginAttempt, now: number): Promise<void> {
    for (const [key] of this.keysOf(attempt)) {
      const w = this.live(key, now);
      if (w && w.count > 0) w.count--;
    }
  }

  async failed(): Promise<void> {
    // Already counted by `acquire`.
  }

  /** Holds the attempt's client id or address back until `until`, as if it had spent its budget. */
  block(attempt: LoginAttempt, which: "client" | "address", until: number): void {
    for (const [key] of this.keysOf(attempt)) {
      if (!key.startsWith(`${which}:`)) continue;
      this.windows.delete(key);
      this.windows.set(key, { start: until - this.windowMs, count: Number.POSITIVE_INFINITY });
    }
    this.evict(until - this.windowMs);
  }

  /** How many keys are kept (for tests of the bound). */
  get size(): number {
    return this.windows.size;
  }

  /** Drops expired windows from the front, and the oldest ones while over the bound. */
  private evict(now: number) {
    for (const [key, w] of this.windows) {
      if (this.windows.size <= this.maxKeys && now < w.start + this.windowMs) break;
      this.windows.delete(key);
    }
  }
}

/** The Workers rate limiting binding (`[[ratelimits]]` in wrangler.toml). */
export interface RateLimitBinding {
  limit(options: { key: string }): Promise<{ success: boolean }>;
}

/**
 * On Workers each isolate has its own memory, so the counts of
 * MemoryLoginThrottle are per isolate. Every failure is also counted by the
 * platform's rate limiting bindings, shared by all isolates of the
 * location: once one says a key is over its limit, this isolate holds the
 * key back for a window. The bindings cannot be read without counting, so
 * the memory counts still decide before a secret is checked (which keeps
 * successful logins free and a throttled client refused even with its
 * secret); the bindings bound guessing spread over many isolates.
 */
export class PlatformLoginThrottle implements LoginThrottle {
  constructor(
    private readonly local: MemoryLoginThrottle,
    private readonly bindings: { client?: RateLimitBinding; address?: RateLimitBinding },
    private readonly windowSeconds: number,
  ) {}

  acquire(attempt: LoginAttempt, now: number): Promise<number> {
    return this.local.acquire(attempt, now);
  }

  release(attempt: LoginAttempt, now: number): Promise<void> {
    return this.local.release(attempt, now);
  }

  async failed(attempt: LoginAttempt, now: number): Promise<void> {
    const { client, address } = this.bindings;
    const [byClient, byAddress] = await Promise.all([
      client?.limit({ key: attempt.clientId.slice(0, 256) }),
      attempt.address ? address?.limit({ key: attempt.address }) : undefined,
    ]);
    const until = now + this.windowSeconds * 1000;
    if (byClient && !byClient.success) this.local.block(attempt, "client", until);
    if (byAddress && !byAddress.success) this.local.block(attempt, "address", until);
  }
}
