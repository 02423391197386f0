/**
 * Power resolution without a database: which nodes a request names (the
 * group's members, no repeats, the bulk cap), which BMC powers each of
 * them, and the per-node failures that explain what is missing.
 */
import { describe, expect, it } from "vitest";
import {
  inventoryStateAfter,
  resolveTasks,
  systemIndexOf,
  TASK_SLACK_MS,
  targetList,
  taskBudgetMs,
} from "../../functions/power/resolve";
import { normalizeAddress } from "../../functions/power/schemas";
import { buildBmc, mergeBmc } from "../../functions/power/service";
import type { PowerTarget } from "../../functions/power/store";
import { ApiError } from "../../shared/problem";

const node = (id: string, over: Partial<PowerTarget> = {}): PowerTarget => {
  const bmc = id.replace(/n\d+$/, "");
  return {
    id,
    type: "Node",
    parent: { id: bmc, type: "NodeBMC" },
    endpoint: { id: bmc, site: null, credentialId: "bmc-cred", address: "https://10.0.0.1" },
    credentialExists: true,
    ...over,
  };
};

function refusal(fn: () => unknown): ApiError {
  try {
    fn();
  } catch (e) {
    if (e instanceof ApiError) return e;
    throw e;
  }
  throw new Error("expected an ApiError");
}

describe("targetList", () => {
  it("puts location first, then the group's members, without repeats", () => {
    expect(targetList(["x1n0", "x2n0", "x1n0"], { name: "g", members: ["x2n0", "x3n0"] }, 20)).toEqual([
      "x1n0",
      "x2n0",
      "x3n0",
    ]);
  });

  it("refuses a request that names nothing, saying which fields to use", () => {
    const e = refusal(() => targetList([], undefined, 20));
    expect(e.status).toBe(422);
    expect(e.errors?.map((f) => f.field)).toEqual(["location", "group"]);
    const empty = refusal(() => targetList([], { name: "empty", members: [] }, 20));
    expect(empty.message).toBe("group 'empty' has no members: there is nothing to power");
  });

  it("enforces the bulk cap after expansion, naming the cap", () => {
    const members = Array.from({ length: 15 }, (_, i) => `x${i}n0`);
    expect(targetList(["a", "b", "c", "d", "e"], { name: "g", members }, 20)).toHaveLength(20);
    const e = refusal(() =>
      targetList(["extra"], { name: "g", members: [...members, "y", "z", "w", "v", "u"] }, 20),
    );
    expect(e.status).toBe(422);
    expect(e.message).toContain("names 21 nodes; at most 20");
    expect(e.message).toContain("CHAMICORE_POWER_MAX_NODES");
    expect(e.errors).toEqual([{ field: "group", message: "21 nodes; the limit is 20" }]);
    expect(refusal(() => targetList(["a", "b"], undefined, 1, "nodes")).errors?.[0]?.field).toBe("nodes");
  });
});

describe("resolveTasks", () => {
  const opts = { operation: "off" as const, dryRun: false };

  it("queues a task per node through its parent's endpoint, for the endpoint's site", () => {
    const tasks = resolveTasks(
      ["x1000c0s0b0n0", "x1000c0s1b0n0"],
      [
        node("x1000c0s1b0n0", {
          endpoint: { id: "x1000c0s1b0", site: "east", credentialId: "c", address: "https://10.0.0.2" },
        }),
        node("x1000c0s0b0n0"),
      ],
      opts,
    );
    expect(tasks).toEqual([
      { xname: "x1000c0s0b0n0", bmcId: "x1000c0s0b0", state: "new", message: "queued", site: null },
      {
        xname: "x1000c0s1b0n0",
        bmcId: "x1000c0s1b0",
        state: "new",
        message: "queued by the agent of site 'east'",
        site: "east",
      },
    ]);
  });

  it("plans instead on a dry run", () => {
    const [t] = resolveTasks(["x1000c0s0b0n0"], [node("x1000c0s0b0n0")], { ...opts, dryRun: true });
    expect(t).toEqual({
      xname: "x1000c0s0b0n0",
      bmcId: "x1000c0s0b0",
      state: "planned",
      message: "would run off through BMC x1000c0s0b0 at https://10.0.0.1",
      site: null,
    });
  });

  it("fails one node's task with what to fix, not the request", () => {
    const tasks = resolveTasks(
      ["a", "b", "c", "d", "e", "ok"],
      [
        node("a", { parent: null }),
        node("b", { parent: { id: "x1000c0", type: "Chassis" } }),
        node("c", { parent: { id: "x1000c0s0b0", type: "NodeBMC" }, endpoint: null }),
        node("d", { credentialExists: false }),
        node("e", { type: "NodeBMC" }),
        node("ok"),
      ],
      opts,
    );
    expect(tasks.map((t) => [t.xname, t.state, t.bmcId, t.message])).toEqual([
      [
        "a",
        "failed",
        null,
        "a has no BMC: set its parentId to its NodeBMC (PATCH /hsm/v2/State/Components/a)",
      ],
      [
        "b",
        "failed",
        null,
        "the parent of b, x1000c0, is a Chassis, not a NodeBMC: set b's parentId to its BMC",
      ],
      ["c", "failed", "x1000c0s0b0", "no BMC endpoint for x1000c0s0b0 (create one with POST /power/v1/bmcs)"],
      [
        "d",
        "failed",
        "d",
        "the credential 'bmc-cred' of BMC d does not exist (store it with POST /auth/v1/credentials, or change the endpoint)",
      ],
      ["e", "failed", null, "e is a NodeBMC, not a node: only Node components are powered"],
      ["ok", "new", "ok", "queued"],
    ]);
  });

  it("refuses xnames that are not in the inventory, naming each", () => {
    const e = refusal(() => resolveTasks(["x1n0", "nope1", "nope2"], [node("x1n0")], opts));
    expect(e.status).toBe(422);
    expect(e.message).toBe("2 nodes are not in the inventory: nope1, nope2");
    expect(e.errors).toEqual([
      { field: "location", message: "'nope1' does not exist" },
      { field: "location", message: "'nope2' does not exist" },
    ]);
    expect(refusal(() => resolveTasks(["nope"], [], opts)).message).toBe(
      "This node is not in the inventory: nope",
    );
  });
});

describe("helpers", () => {
  it("finds a node's system by its name under the BMC", () => {
    expect(systemIndexOf("x1000c0s0b0n0", "x1000c0s0b0")).toBe(0);
    expect(systemIndexOf("x1000c0s0b0n1", "x1000c0s0b0")).toBe(1);
    expect(systemIndexOf("nodebmc-aabb-n3", "nodebmc-aabb")).toBe(3);
    expect(systemIndexOf("compute-17", "x1000c0s0b0")).toBe(0);
    expect(systemIndexOf("x1000c0s0b0n1x", "x1000c0s0b0")).toBe(0);
  });

  it("maps operations to the inventory state they leave", () => {
    expect(inventoryStateAfter("on")).toBe("On");
    expect(inventoryStateAfter("soft-restart")).toBe("On");
    expect(inventoryStateAfter("init")).toBe("On");
    expect(inventoryStateAfter("off")).toBe("Off");
    expect(inventoryStateAfter("soft-off")).toBe("Off");
    expect(inventoryStateAfter("force-off")).toBe("Off");
  });

  it("gives two-step operations twice the deadline, plus slack", () => {
    expect(taskBudgetMs("on", 5)).toBe(300_000 + TASK_SLACK_MS);
    expect(taskBudgetMs("init", 0.5)).toBe(60_000 + TASK_SLACK_MS);
  });

  it("normalises BMC addresses to an origin", () => {
    expect(normalizeAddress("10.1.3.17")).toBe("https://10.1.3.17");
    expect(normalizeAddress("bmc1.example:8443")).toBe("https://bmc1.example:8443");
    expect(normalizeAddress("http://127.0.0.1:8000/")).toBe("http://127.0.0.1:8000");
    expect(normalizeAddress("[fd00::1]:443")).toBe("https://[fd00::1]");
    for (const bad of ["", "ftp://x", "https://u:p@x", "https://x/redfish/v1", "a b", "https://x?y=1"])
      expect(normalizeAddress(bad), bad).toBeUndefined();
  });

  it("builds and merge-patches endpoints with defaults", () => {
    const b = buildBmc({ id: "x1b0", address: "https://a", credentialId: "c" }, "x1b0");
    expect(b).toEqual({
      id: "x1b0",
      address: "https://a",
      credentialId: "c",
      auth: "basic",
      insecure: false,
      site: null,
    });
    const patched = mergeBmc({ ...b, site: "east", insecure: true }, { site: null, auth: "session" });
    expect(patched).toEqual({ ...b, auth: "session", insecure: true, site: null });
    expect(refusal(() => mergeBmc(b, { id: "other" })).errors?.[0]?.field).toBe("id");
  });
});
