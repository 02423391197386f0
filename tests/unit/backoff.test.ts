import { describe, expect, it } from "vitest";
import { Backoff, backoffDelay } from "../../shared/backoff";
import { abortableSleep } from "../../shared/sleeper";

const top = () => 0; // no jitter taken: the ceiling itself
const bottom = () => 0.999_999;

describe("backoff", () => {
  it("doubles from the first wait up to the cap", () => {
    const waits = [1, 2, 3, 4, 5, 6, 7].map((n) => backoffDelay(n, { random: top }));
    expect(waits).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000]);
  });

  it("draws each wait from the jitter band below the doubling delay", () => {
    expect(backoffDelay(3, { firstMs: 100, jitter: 0.5, random: bottom })).toBe(200);
    expect(backoffDelay(3, { firstMs: 100, jitter: 1, random: bottom })).toBe(0);
    for (let i = 0; i < 200; i++) {
      const w = backoffDelay(2, { firstMs: 1000 });
      expect(w).toBeGreaterThanOrEqual(1600);
      expect(w).toBeLessThanOrEqual(2000);
    }
  });

  it("stays finite after a very long outage", () => {
    expect(backoffDelay(10_000, { random: top })).toBe(30_000);
  });

  it("starts over after a success", () => {
    const b = new Backoff({ firstMs: 10, maxMs: 1000, random: top });
    expect([b.fail(), b.fail(), b.fail()]).toEqual([10, 20, 40]);
    expect(b.failures).toBe(3);
    b.reset();
    expect(b.failures).toBe(0);
    expect(b.fail()).toBe(10);
  });
});

describe("abortableSleep", () => {
  it("ends at once when its signal aborts", async () => {
    const stop = new AbortController();
    const t0 = performance.now();
    const slept = abortableSleep(10_000, stop.signal);
    setTimeout(() => stop.abort(), 20);
    await slept;
    expect(performance.now() - t0).toBeLessThan(1000);
    expect(stop.signal.aborted).toBe(true);
  });
});
