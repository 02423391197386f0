/**
 * The edge's memory governor: a full collection when resident memory is
 * over the target, not more often than the shortest gap, and, when what is
 * live is over the target, only once there is the headroom's worth above it.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { GovernorState, startMemoryGovernor } from "../../edge-node/memory-governor";

const MiB = 2 ** 20;

describe("GovernorState", () => {
  const state = () => new GovernorState({ targetBytes: 100 * MiB, minGapMs: 200, headroomBytes: 16 * MiB });

  it("collects only over the target", () => {
    const s = state();
    expect(s.due(0, 99 * MiB)).toBe(false);
    expect(s.due(0, 100 * MiB)).toBe(false);
    expect(s.due(0, 101 * MiB)).toBe(true);
  });

  it("waits the shortest gap after a collection", () => {
    const s = state();
    s.collected(1000, 90 * MiB);
    expect(s.due(1100, 150 * MiB)).toBe(false);
    expect(s.due(1200, 150 * MiB)).toBe(true);
  });

  it("when what is live is over the target, waits for the headroom above it, and drops back", () => {
    const s = state();
    s.collected(0, 120 * MiB);
    expect(s.due(1000, 130 * MiB)).toBe(false);
    expect(s.due(1000, 137 * MiB)).toBe(true);
    // A collection that got back under the target: the target again.
    s.collected(2000, 80 * MiB);
    expect(s.due(3000, 101 * MiB)).toBe(true);
  });
});

describe("startMemoryGovernor", () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it("runs the collection on its timer when over the target, and reports before and after", () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval", "performance"] });
    let rss = 150 * MiB;
    const seen: [number, number][] = [];
    const g = startMemoryGovernor({
      targetBytes: 100 * MiB,
      rss: () => rss,
      collect: () => {
        rss = 90 * MiB;
      },
      tickMs: 100,
      minGapMs: 200,
      onCollect: (b, a) => seen.push([b / MiB, a / MiB]),
    });
    vi.advanceTimersByTime(100);
    expect(seen).toEqual([[150, 90]]);
    // Under the target: nothing to do.
    rss = 95 * MiB;
    vi.advanceTimersByTime(1000);
    expect(seen).toHaveLength(1);
    rss = 130 * MiB;
    vi.advanceTimersByTime(200);
    expect(seen).toEqual([
      [150, 90],
      [130, 90],
    ]);
    g.stop();
    rss = 500 * MiB;
    vi.advanceTimersByTime(1000);
    expect(seen).toHaveLength(2);
  });

  it("waits for a look with nothing served before it collects", () => {
    vi.useFakeTimers({ toFake: ["setInterval", "clearInterval", "performance"] });
    let busy = true;
    let collections = 0;
    const g = startMemoryGovernor({
      targetBytes: 100 * MiB,
      rss: () => 150 * MiB,
      collect: () => {
        collections++;
      },
      quiet: () => !busy,
      tickMs: 100,
      minGapMs: 200,
    });
    vi.advanceTimersByTime(2000);
    expect(collections).toBe(0);
    busy = false;
    vi.advanceTimersByTime(100);
    expect(collections).toBe(1);
    g.stop();
  });
});
