import { describe, expect, it } from "vitest";
import { readAhead } from "../../shared/read-ahead";

const tick = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("readAhead", () => {
  it("consumes in order however the reads finish, with at most `limit` reads at once", async () => {
    let running = 0;
    let most = 0;
    const consumed: number[] = [];
    const done = await readAhead(
      [50, 5, 30, 1, 20, 10, 2],
      3,
      async (ms, i) => {
        running++;
        most = Math.max(most, running);
        await tick(ms);
        running--;
        return i;
      },
      async (r) => {
        consumed.push(r);
        return true;
      },
    );
    expect(done).toBe(true);
    expect(consumed).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(most).toBe(3);
  });

  it("stops starting reads once consume answers false", async () => {
    const started: number[] = [];
    const done = await readAhead(
      [0, 1, 2, 3, 4, 5, 6, 7],
      2,
      async (i) => {
        started.push(i);
        return i;
      },
      async (r) => r < 2,
    );
    expect(done).toBe(false);
    // Items 0–2 consumed (the third said stop); one read ahead of it had started, no more.
    expect(started).toEqual([0, 1, 2, 3]);
  });

  it("passes a failed read on as a rejection from the call", async () => {
    await expect(
      readAhead(
        [1, 2],
        2,
        async (i) => {
          if (i === 2) throw new Error("boom");
          return i;
        },
        async () => true,
      ),
    ).rejects.toThrow("boom");
  });
});
