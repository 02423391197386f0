/**
 * Boot progress, the parts without a database: the edge's recorder keeps the
 * latest stage per node (with the retry of its last boot script), sends in
 * batches of at most MAX_BATCH, keeps what a failed send held without
 * letting it overwrite a newer stage, and drops the longest-unchanged node
 * past its bound, counting it; the status query's filters and the times a
 * batch is re-based to.
 */
import { describe, expect, it } from "vitest";
import { ProgressRecorder } from "../../edge-node/progress/recorder";
import { rebased } from "../../functions/progress/record";
import { MAX_BATCH, type ProgressBatch } from "../../functions/progress/schemas";
import { statusOf, statusQueryOf } from "../../functions/progress/status";
import { silentLogger } from "../../shared/log";
import { ApiError } from "../../shared/problem";

function recorder(opts: { fail?: () => boolean; maxNodes?: number } = {}) {
  let clock = Date.parse("2026-12-07T00:00:00Z");
  const sent: ProgressBatch[] = [];
  const r = new ProgressRecorder({
    edge: "rack1",
    logger: silentLogger,
    maxNodes: opts.maxNodes,
    now: () => clock,
    send: async (b) => {
      if (opts.fail?.()) throw new Error("uplink down");
      sent.push(b);
    },
  });
  return { r, sent, tick: (ms: number) => (clock += ms), events: () => sent.flatMap((b) => b.events) };
}

describe("ProgressRecorder", () => {
  it("keeps the latest stage per node, with the retry of its last boot script", async () => {
    const { r, events, tick } = recorder();
    r.seen({ node: "n1", stage: "bootscript", retry: 2 });
    tick(10);
    r.seen({ node: "n1", stage: "meta-data", address: "10.0.0.1" });
    tick(10);
    r.seen({ node: "n1", stage: "user-data" });
    r.seen({ node: "n2", stage: "bootscript", retry: 0 });
    expect(r.status().pending).toBe(2);
    await r.flush();
    expect(events()).toEqual([
      { node: "n1", stage: "user-data", at: "2026-12-07T00:00:00.020Z", retry: 2, address: "10.0.0.1" },
      { node: "n2", stage: "bootscript", at: "2026-12-07T00:00:00.020Z", retry: 0 },
    ]);
    expect(r.status()).toEqual({ pending: 0, dropped: 0, sent: 2, failing: null });
    await r.flush();
    expect(events()).toHaveLength(2);
  });

  it("sends batches of at most MAX_BATCH events", async () => {
    const { r, sent } = recorder();
    for (let i = 0; i < MAX_BATCH * 2 + 1; i++) r.seen({ node: `n${i}`, stage: "bootscript", retry: 0 });
    await r.flush();
    expect(sent.map((b) => b.events.length)).toEqual([MAX_BATCH, MAX_BATCH, 1]);
    expect(sent.every((b) => b.edge === "rack1")).toBe(true);
  });

  it("keeps what a failed send held, behind newer stages that it never overwrites", async () => {
    let down = true;
    const { r, events, tick } = recorder({ fail: () => down });
    r.seen({ node: "n1", stage: "bootscript", retry: 1 });
    r.seen({ node: "n2", stage: "bootscript", retry: 0 });
    await r.flush();
    expect(r.status()).toMatchObject({ pending: 2, sent: 0, failing: "uplink down" });
    tick(1000);
    // n1 moves on while the uplink is down: its newer stage wins, with the retry it had.
    r.seen({ node: "n1", stage: "phone-home" });
    await r.flush();
    down = false;
    await r.flush();
    expect(events()).toEqual([
      { node: "n2", stage: "bootscript", at: "2026-12-07T00:00:00.000Z", retry: 0 },
      { node: "n1", stage: "phone-home", at: "2026-12-07T00:00:01.000Z", retry: 1 },
    ]);
    expect(r.status()).toEqual({ pending: 0, dropped: 0, sent: 2, failing: null });
  });

  it("past its bound, drops the node updated longest ago and counts it", async () => {
    const { r, events } = recorder({ maxNodes: 3 });
    for (const n of ["a", "b", "c"]) r.seen({ node: n, stage: "bootscript", retry: 0 });
    r.seen({ node: "a", stage: "meta-data" });
    r.seen({ node: "d", stage: "bootscript", retry: 0 });
    expect(r.status()).toMatchObject({ pending: 3, dropped: 1 });
    await r.flush();
    expect(events().map((e) => e.node)).toEqual(["c", "a", "d"]);
  });

  it("stops after one last send, and does not wait long for an uplink that does not answer", async () => {
    const hung = new ProgressRecorder({
      edge: "rack1",
      logger: silentLogger,
      send: () => new Promise(() => {}),
    });
    hung.seen({ node: "n1", stage: "bootscript", retry: 0 });
    const t0 = Date.now();
    await hung.stop(100);
    expect(Date.now() - t0).toBeLessThan(1000);
  });
});

describe("status query", () => {
  const now = new Date("2026-12-07T01:00:00Z");
  const q = (s: string) => statusQueryOf(new URLSearchParams(s), now);

  it("reads the filters, comma-separated, and the smallest stuck threshold", () => {
    expect(
      q("stage=bootscript,user-data&group=compute&rack=x1000,x1001&edge=e1&stuckFor=60,30"),
    ).toMatchObject({
      stages: ["bootscript", "user-data"],
      groups: ["compute"],
      racks: ["x1000", "x1001"],
      edges: ["e1"],
      stuckForSeconds: 30,
      sort: { field: "at", desc: false },
      limit: 100,
      offset: 0,
    });
    expect(q("stuck-for=0&sort=-id&limit=5").stuckForSeconds).toBe(0);
    expect(q("").stuckForSeconds).toBeUndefined();
  });

  it("refuses an unknown stage, a bad threshold and an unknown filter", () => {
    for (const bad of ["stage=dhcp", "stuckFor=-1", "stuckFor=soon", "cabinet=x1000", "sort=rack"])
      expect(() => q(bad), bad).toThrow(ApiError);
  });

  it("counts stuck seconds to `now`, and none once the node phoned home", () => {
    const row = {
      node: "x1000c0s0b0n0",
      at: new Date("2026-12-07T00:58:30.500Z"),
      edge: "e1",
      retry: 0,
      address: null,
      rack: "x1000",
    };
    expect(statusOf({ ...row, stage: "user-data" }, now).stuckSeconds).toBe(89);
    expect(statusOf({ ...row, stage: "phone-home" }, now).stuckSeconds).toBeNull();
  });
});

describe("rebased", () => {
  it("moves an edge's times by its clock's offset, and never into the future", () => {
    const now = new Date("2026-12-07T01:00:00Z");
    // The edge's clock is 10 minutes behind: what it saw 2 s before sending happened 2 s before now.
    const times = rebased(
      {
        sentAt: "2026-12-07T00:50:00.000Z",
        events: [{ at: "2026-12-07T00:49:58.000Z" }, { at: "2026-12-07T00:51:00.000Z" }],
      },
      now,
    );
    expect(times.map((t) => t.toISOString())).toEqual([
      "2026-12-07T00:59:58.000Z",
      "2026-12-07T01:00:00.000Z",
    ]);
  });
});
