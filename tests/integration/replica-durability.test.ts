/**
 * `kill -9` of a process in the middle of applying batches: every batch it
 * reported as committed (what the edge acks to NATS) is there after a
 * reopen, no batch is there in part, and rows match the recorded position
 * exactly. A second run resumes from that position. Run for both SQLite
 * drivers: better-sqlite3 under Node, and bun:sqlite under Bun as in the
 * single executable, each replica reopened and checked by better-sqlite3.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { openBetterSqlite } from "../../edge-node/node/sqlite";
import { Replica } from "../../edge-node/replica";

const BATCH = 10;

const BUN = join(process.cwd(), "node_modules/.bin/bun");

/** How each driver's writer is started, and where its driver is. */
const DRIVERS = {
  "better-sqlite3": {
    run: (script: string) => [process.execPath, "--import", "tsx", script],
    module: "edge-node/node/sqlite.ts",
    open: "openBetterSqlite",
  },
  "bun:sqlite": {
    run: (script: string) => [BUN, script],
    module: "edge-node/bun/sqlite.ts",
    open: "openBunSqlite",
  },
} as const;
type Driver = keyof typeof DRIVERS;

/** Applies batches of component creations forever, printing each committed position. */
const writer = (driver: Driver) => `
import { writeSync } from "node:fs";
import { Replica } from ${JSON.stringify(join(process.cwd(), "edge-node/replica/index.ts"))};
import { ${DRIVERS[driver].open} as sqlite } from ${JSON.stringify(join(process.cwd(), DRIVERS[driver].module))};
const r = Replica.open(process.argv[2], { sqlite });
let p = r.position();
writeSync(1, "start " + p + "\\n");
const T = "2026-01-01T00:00:00.000Z";
for (;;) {
  const batch = [];
  for (let i = 0; i < ${BATCH}; i++) {
    p++;
    const id = "x" + p + "c0s0b0n0";
    batch.push({
      specversion: "1.0", id: "e" + p, source: "chamicore-control", type: "chamicore.smd.components.created",
      subject: id, time: T, datacontenttype: "application/json", position: p,
      data: { kind: "Component", apiVersion: "hsm/v2", metadata: { id, etag: "e", createdAt: T, updatedAt: T },
        spec: { id, type: "Node", state: "Ready", role: "Compute", subRole: null, nid: p, parentId: null, rack: null,
          unit: null, slot: null, subSlot: null, flag: "OK", arch: null, netType: null, enabled: true } },
    });
  }
  r.applyEvents(batch);
  writeSync(1, "committed " + p + "\\n");
}
`;

/** Runs the writer until it has reported `until` committed positions past its start, then SIGKILLs it. */
async function runAndKill(driver: Driver, script: string, dataDir: string, batches: number) {
  const [cmd, ...args] = DRIVERS[driver].run(script);
  const child = spawn(cmd!, [...args, dataDir], {
    cwd: process.cwd(),
    stdio: ["ignore", "pipe", "pipe"],
  });
  let buf = "";
  let err = "";
  let start: number | undefined;
  let committed: number | undefined;
  child.stderr.on("data", (d) => {
    err += d;
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    child.on("exit", (_code, signal) => resolve(signal)),
  );
  await new Promise<void>((resolve, reject) => {
    child.on("exit", () => reject(new Error(`writer exited early: ${err}`)));
    child.stdout.on("data", (d) => {
      buf += d;
      const lines = buf.split("\n");
      buf = lines.pop()!;
      for (const line of lines) {
        const [what, n] = line.split(" ");
        if (what === "start") start = Number(n);
        if (what === "committed") committed = Number(n);
      }
      if (start !== undefined && committed !== undefined && committed >= start + batches * BATCH) {
        child.kill("SIGKILL");
        resolve();
      }
    });
  });
  expect(await exited).toBe("SIGKILL");
  return { start: start!, committed: committed! };
}

describe.each(Object.keys(DRIVERS) as Driver[])("replica durability with %s", (driver) => {
  let dir: string;
  let script: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), "chamicore-replica-kill-"));
    script = join(dir, "writer.ts");
    writeFileSync(script, writer(driver));
  });
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it("keeps every reported commit across kill -9, whole batches only, and resumes from the position", async () => {
    const data = join(dir, "edge");
    for (const round of [1, 2]) {
      const { start, committed } = await runAndKill(driver, script, data, 40);
      if (round === 2) expect(start).toBeGreaterThan(0);
      const r = Replica.open(data, { sqlite: openBetterSqlite });
      try {
        const position = r.position();
        expect(position, `round ${round}`).toBeGreaterThanOrEqual(committed);
        expect(position % BATCH).toBe(0);
        // Rows and position went in together: exactly one component per applied position.
        const ids = r.dump().components.map((c) => c.metadata.id);
        expect(ids.length).toBe(position);
        expect(new Set(ids)).toEqual(
          new Set(Array.from({ length: position }, (_, i) => `x${i + 1}c0s0b0n0`)),
        );
        expect(r.status().counts.components).toBe(position);
      } finally {
        r.close();
      }
    }
  });
});
