import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { MalformedSnapshot, SnapshotDocument } from "../../edge-node/replica/snapshot-document";

const doc = (v: unknown, space?: number) => new SnapshotDocument(Buffer.from(JSON.stringify(v, null, space)));

describe("SnapshotDocument", () => {
  const tricky = {
    kind: "Snapshot",
    position: 42,
    components: [
      { id: "a", note: 'brackets ] } [ { and "quotes", commas, \\ backslashes \\" and colons: in strings' },
      { id: "é ü 🚀", nested: { list: [1, [2, [3]], { deep: [] }], t: true, f: false, n: null, x: -1.5e3 } },
    ],
    interfaces: [],
    groups: [[], {}, "s", 0],
  };

  it("yields every element of a top-level list as JSON.parse would, compact or indented", () => {
    for (const space of [undefined, 2]) {
      const d = doc(tricky, space);
      expect(d.position).toBe(42);
      expect([...d.list("components")!]).toEqual(tricky.components);
      expect([...d.list("interfaces")!]).toEqual([]);
      expect([...d.list("groups")!]).toEqual(tricky.groups);
    }
  });

  it("answers undefined for a member that is missing or not a list", () => {
    const d = doc(tricky);
    expect(d.list("payloads")).toBeUndefined();
    expect(d.list("kind")).toBeUndefined();
    expect(doc({}).position).toBeUndefined();
  });

  it("refuses what is not one JSON object, naming where", () => {
    for (const text of [
      "",
      "[]",
      '{"position": 1',
      '{"a": [1, 2}',
      '{"a": "open}',
      '{"a": 1} x',
      '{"a" 1}',
      '{"a": 1,, }',
    ])
      expect(() => new SnapshotDocument(Buffer.from(text)), text).toThrow(MalformedSnapshot);
    expect(() => new SnapshotDocument(Buffer.from('{"position": 1'))).toThrow(/at byte \d+ of 14/);
  });

  it("leaves a broken element to JSON.parse, when it is reached", () => {
    const d = new SnapshotDocument(Buffer.from('{"position": 1, "components": [{"id": "a"}, {"id": tru}]}'));
    const it = d.list("components")![Symbol.iterator]();
    expect(it.next().value).toEqual({ id: "a" });
    expect(() => it.next()).toThrow(SyntaxError);
  });

  it("reads a spooled file through its window to the same elements, across window edges", () => {
    const dir = mkdtempSync(join(tmpdir(), "chamicore-snapshot-doc-"));
    try {
      // ~3 MiB: elements of varied sizes, so that many of them straddle the 1 MiB window's edges.
      const big = {
        position: 7,
        components: Array.from({ length: 3000 }, (_, i) => ({
          id: `n${i}`,
          text: `${'é]\\"{'.repeat(i % 97)}${"x".repeat((i * 37) % 1500)}`,
        })),
        interfaces: [],
      };
      const path = join(dir, "snapshot.json");
      writeFileSync(path, JSON.stringify(big, null, 1));
      const d = SnapshotDocument.open(path);
      try {
        expect(d.position).toBe(7);
        expect([...d.list("components")!]).toEqual(big.components);
        expect([...d.list("interfaces")!]).toEqual([]);
      } finally {
        d.close();
      }
      writeFileSync(path, JSON.stringify(big).slice(0, 2_500_000));
      expect(() => SnapshotDocument.open(path)).toThrow(MalformedSnapshot);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
