/**
 * The inventory conformance script, run four ways: Node on embedded PGlite,
 * Node on the real Postgres, and the wrangler-built Worker in workerd on the
 * real Postgres through a Hyperdrive binding and through Neon's serverless
 * driver. Each run must pass on its own and all transcripts must match.
 */
import { afterAll, describe, expect, it } from "vitest";
import {
  nodePgliteTarget,
  nodePostgresTarget,
  type Target,
  workerNeonTarget,
  workerTarget,
} from "../support/targets";
import { runInventoryScript, type Step } from "./inventory-script";

const transcripts = new Map<string, Step[]>();
const started: Target[] = [];

afterAll(async () => {
  await Promise.all(started.map((t) => t.stop()));
});

describe.sequential("inventory conformance", () => {
  for (const [name, start] of [
    ["node+pglite", nodePgliteTarget],
    ["node+postgres", nodePostgresTarget],
    ["workerd+hyperdrive", workerTarget],
    ["workerd+neon", workerNeonTarget],
  ] as const) {
    it(`passes on ${name}`, async () => {
      const target = await start({});
      started.push(target);
      transcripts.set(name, await runInventoryScript(target.call));
    });
  }

  it("gives identical statuses and bodies on every runtime", () => {
    const [first, ...rest] = [...transcripts.entries()];
    expect(transcripts.size).toBe(4);
    for (const [name, steps] of rest) {
      expect(steps.length, name).toBe(first![1].length);
      steps.forEach((s, i) => {
        expect(s, `${name} vs ${first![0]} at step ${i}`).toEqual(first![1][i]);
      });
    }
  });
});
