/**
 * The failed-login throttle (functions/auth/login-throttle.ts) in memory:
 * per-client and per-address budgets in a fixed window, refused attempts
 * not counted, successes given back, attempts in flight counted before their
 * secret is checked, limits of 0 turned off, and memory bounded by
 * forgetting the keys that failed longest ago.
 */
import { describe, expect, it } from "vitest";
import { loadControlConfig } from "../../control/config";
import { type LoginAttempt, MemoryLoginThrottle } from "../../functions/auth/login-throttle";
import { ConfigError } from "../../functions/config";

const T0 = 1_000_000;
const limits = { perClient: 3, perAddress: 5, windowSeconds: 10 };
const from = (clientId: string, address?: string): LoginAttempt => ({ clientId, address });

describe("MemoryLoginThrottle", () => {
  it("refuses a client id past its budget until the window ends, with the seconds left", async () => {
    const th = new MemoryLoginThrottle(limits);
    for (let i = 0; i < 3; i++) expect(await th.acquire(from("ci", "10.0.0.1"), T0 + i)).toBe(0);
    expect(await th.acquire(from("ci", "10.0.0.1"), T0 + 3)).toBe(10);
    expect(await th.acquire(from("ci", "10.0.0.2"), T0 + 7_500)).toBe(3);
    expect(await th.acquire(from("ci", "10.0.0.2"), T0 + 9_999)).toBe(1);
    // The refused attempts counted nothing: a new window starts afresh.
    expect(await th.acquire(from("ci", "10.0.0.2"), T0 + 10_000)).toBe(0);
    // Another client is not concerned.
    expect(await th.acquire(from("other", "10.0.0.3"), T0 + 5)).toBe(0);
  });

  it("refuses an address past its budget whatever client id it tries", async () => {
    const th = new MemoryLoginThrottle(limits);
    for (let i = 0; i < 5; i++) expect(await th.acquire(from(`c${i}`, "10.0.0.9"), T0)).toBe(0);
    expect(await th.acquire(from("c-new", "10.0.0.9"), T0 + 1_000)).toBe(9);
    expect(await th.acquire(from("c-new", "10.0.0.10"), T0 + 1_000)).toBe(0);
    // An unknown address is no shared key: only the client id limits it.
    for (let i = 0; i < 3; i++) expect(await th.acquire(from(`u${i}`), T0)).toBe(0);
  });

  it("gives a success's budget back, so logins that work never run out", async () => {
    const th = new MemoryLoginThrottle(limits);
    for (let i = 0; i < 50; i++) {
      expect(await th.acquire(from("ci", "10.0.0.1"), T0 + i)).toBe(0);
      await th.release(from("ci", "10.0.0.1"), T0 + i);
    }
    for (let i = 0; i < 3; i++) expect(await th.acquire(from("ci", "10.0.0.1"), T0 + 100)).toBe(0);
    expect(await th.acquire(from("ci", "10.0.0.1"), T0 + 100)).toBeGreaterThan(0);
  });

  it("counts attempts in flight: twenty at once get three through", async () => {
    const th = new MemoryLoginThrottle(limits);
    const waits = await Promise.all(Array.from({ length: 20 }, () => th.acquire(from("ci", "10.0.0.1"), T0)));
    expect(waits.filter((w) => w === 0)).toHaveLength(3);
    expect(waits.filter((w) => w === 10)).toHaveLength(17);
  });

  it("turns a limit of 0 off", async () => {
    const th = new MemoryLoginThrottle({ perClient: 0, perAddress: 0, windowSeconds: 60 });
    for (let i = 0; i < 100; i++) expect(await th.acquire(from("ci", "10.0.0.1"), T0)).toBe(0);
    expect(th.size).toBe(0);
  });

  it("keeps at most maxKeys keys, forgetting those that failed longest ago", async () => {
    const th = new MemoryLoginThrottle({ perClient: 1, perAddress: 0, windowSeconds: 60 }, 100);
    for (let i = 0; i < 1_000; i++) await th.acquire(from(`spray-${i}`), T0 + i);
    expect(th.size).toBe(100);
    // The latest keys are still held back; the earliest were forgotten.
    expect(await th.acquire(from("spray-999"), T0 + 1_000)).toBeGreaterThan(0);
    expect(await th.acquire(from("spray-0"), T0 + 1_000)).toBe(0);
    // Expired windows go as soon as new failures come in.
    await th.acquire(from("late"), T0 + 120_000);
    expect(th.size).toBe(1);
  });
});

describe("CHAMICORE_LOGIN_*", () => {
  it("reads the limits and the window, and names a bad value", () => {
    const c = loadControlConfig({
      CHAMICORE_LOGIN_MAX_FAILURES_PER_CLIENT: "5",
      CHAMICORE_LOGIN_MAX_FAILURES_PER_ADDRESS: "0",
      CHAMICORE_LOGIN_WINDOW_SECONDS: "300",
    });
    expect(c.CHAMICORE_LOGIN_MAX_FAILURES_PER_CLIENT).toBe(5);
    expect(c.CHAMICORE_LOGIN_MAX_FAILURES_PER_ADDRESS).toBe(0);
    expect(c.CHAMICORE_LOGIN_WINDOW_SECONDS).toBe(300);
    for (const [name, bad] of [
      ["CHAMICORE_LOGIN_MAX_FAILURES_PER_CLIENT", "-1"],
      ["CHAMICORE_LOGIN_MAX_FAILURES_PER_ADDRESS", "many"],
      ["CHAMICORE_LOGIN_WINDOW_SECONDS", "0"],
      ["CHAMICORE_LOGIN_WINDOW_SECONDS", "1.5"],
    ] as const) {
      expect(() => loadControlConfig({ [name]: bad })).toThrow(ConfigError);
      expect(() => loadControlConfig({ [name]: bad })).toThrow(new RegExp(name));
    }
  });
});
