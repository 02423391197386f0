/**
 * The power engine with real Redfish clients against emulated BMCs: every
 * operation, the AllowableValues mapping, a fleet of 100 BMCs under the
 * concurrency limits, abort, deadlines and faults.
 */
import { afterAll, describe, expect, it } from "vitest";
import { RedfishClient, type RedfishClientOptions } from "../../functions/node/redfish/client";
import {
  type PowerClient,
  type PowerOptions,
  type PowerResult,
  type PowerTask,
  type PowerUpdate,
  runPowerTasks,
} from "../../functions/redfish/power";
import type { PowerOperation } from "../../functions/redfish/reset-types";
import { type BmcOptions, type EmulatedBmc, maxConcurrency, startBmc, startBmcs } from "../support/bmc";

const toClose: { close(): Promise<void> }[] = [];

afterAll(async () => {
  await Promise.all(toClose.map((x) => x.close()));
});

async function bmc(opts: BmcOptions = {}) {
  const b = await startBmc(opts);
  toClose.push(b);
  return b;
}

function clientFor(b: EmulatedBmc, opts: Partial<RedfishClientOptions> = {}) {
  const c = new RedfishClient({
    baseUrl: b.url,
    credentials: b.credentials,
    timeoutMs: 2_000,
    backoffMs: 5,
    ...opts,
  });
  toClose.push(c);
  return c;
}

let ids = 0;
function task(
  b: EmulatedBmc,
  operation: PowerOperation,
  client: PowerClient = clientFor(b),
  systemPath?: string,
) {
  ids++;
  return {
    id: `t${ids}`,
    xname: `x1000c0s${ids}b0n0`,
    bmc: { key: b.url, client },
    operation,
    ...(systemPath ? { systemPath } : {}),
  } satisfies PowerTask;
}

/** Short timings: the emulator changes state after 5 ms, the engine polls every 15 ms. */
const FAST: PowerOptions = { pollMs: 15, deadlineMs: 2_000 };

async function runOne(
  b: EmulatedBmc,
  operation: PowerOperation,
  options: PowerOptions = FAST,
): Promise<PowerResult> {
  const [result] = await runPowerTasks([task(b, operation)], options);
  return result!;
}

describe("each operation on the rackmount mockup", () => {
  const cases: {
    op: PowerOperation;
    from: "On" | "Off";
    resets: string[];
    history: string[];
    message: RegExp;
  }[] = [
    { op: "on", from: "Off", resets: ["On"], history: ["Off", "On"], message: /^On: On$/ },
    { op: "off", from: "On", resets: ["ForceOff"], history: ["On", "Off"], message: /^ForceOff: Off$/ },
    { op: "force-off", from: "On", resets: ["ForceOff"], history: ["On", "Off"], message: /^ForceOff: Off$/ },
    {
      op: "soft-off",
      from: "On",
      resets: ["GracefulShutdown"],
      history: ["On", "Off"],
      message: /^GracefulShutdown: Off$/,
    },
    {
      op: "soft-restart",
      from: "On",
      resets: ["GracefulRestart"],
      history: ["On", "Off", "On"],
      message: /^GracefulRestart: (went off and came back On|On, reset at .+)$/,
    },
    {
      op: "hard-restart",
      from: "On",
      resets: ["ForceRestart"],
      history: ["On", "Off", "On"],
      message: /^ForceRestart: (went off and came back On|On, reset at .+)$/,
    },
    {
      op: "init",
      from: "On",
      resets: ["ForceOff", "On"],
      history: ["On", "Off", "On"],
      message: /^ForceOff: Off, then On: On$/,
    },
    {
      op: "init",
      from: "Off",
      resets: ["On"],
      history: ["Off", "On"],
      message: /^already Off, then On: On$/,
    },
  ];

  it.each(cases)("$op from $from", async ({ op, from, resets, history, message }) => {
    const b = await bmc({ initialPowerState: from, powerDelayMs: 5, restartOffMs: 40 });
    const result = await runOne(b, op);
    expect(result).toMatchObject({ state: "succeeded", resetTypes: resets, powerState: history.at(-1) });
    expect(result.message).toMatch(message);
    expect(b.resets.map((r) => r.resetType)).toEqual(resets);
    // The emulator may still be finishing a restart the engine accepted as On.
    await expect.poll(() => b.powerHistory().map((h) => h.state)).toEqual(history);
  });

  it("skips the Reset when the system is already in the state asked for", async () => {
    const b = await bmc({ initialPowerState: "On" });
    const on = await runOne(b, "on");
    expect(on).toMatchObject({ state: "succeeded", message: "already On", resetTypes: [], powerState: "On" });
    b.setPowerState("Off");
    expect(await runOne(b, "off")).toMatchObject({
      state: "succeeded",
      message: "already Off",
      resetTypes: [],
    });
    expect(b.resets).toEqual([]);
  });

  it("accepts On after a restart too quick to see, by LastResetTime or, without one, leniently", async () => {
    // The rackmount system has LastResetTime: its change proves the restart.
    const rack = await bmc({ powerDelayMs: 0, restartOffMs: 0 });
    const result = await runOne(rack, "hard-restart", { ...FAST, pollMs: 30 });
    expect(result).toMatchObject({
      state: "succeeded",
      message: expect.stringMatching(/^ForceRestart: On, reset at 20/),
    });
    expect(rack.powerHistory().map((h) => h.state)).toEqual(["On", "Off", "On"]);
    // The bladed systems have none: On after the Reset is taken as restarted, and the message says so.
    const blade = await bmc({ mockup: "public-bladed", powerDelayMs: 0, restartOffMs: 0 });
    const lenient = await runOne(blade, "soft-restart", { ...FAST, pollMs: 30 });
    expect(lenient).toMatchObject({ state: "succeeded", message: "GracefulRestart: On (no power-off seen)" });
  });

  it("reports progress, then the outcome", async () => {
    const b = await bmc({ powerDelayMs: 5 });
    const updates: PowerUpdate[] = [];
    const t = task(b, "off");
    await runPowerTasks([t], { ...FAST, onProgress: (id, u) => id === t.id && updates.push(u) });
    expect(updates.map((u) => u.message)).toEqual([
      "reading the system",
      "sending ForceOff",
      "ForceOff sent, waiting for Off",
      "ForceOff: Off",
    ]);
    expect(updates.map((u) => u.state)).toEqual(["in-progress", "in-progress", "in-progress", "succeeded"]);
    expect(updates.at(-1)?.powerState).toBe("Off");
  });
});

describe("AllowableValues", () => {
  it("uses what the BMC allows when it lacks the preferred value", async () => {
    const b = await bmc({
      allowableResetTypes: ["ForceOn", "ForceOff", "PowerCycle"],
      initialPowerState: "Off",
    });
    expect(await runOne(b, "on")).toMatchObject({ state: "succeeded", resetTypes: ["ForceOn"] });
    expect(await runOne(b, "hard-restart")).toMatchObject({ state: "succeeded", resetTypes: ["PowerCycle"] });
    expect(b.resets.map((r) => r.resetType)).toEqual(["ForceOn", "PowerCycle"]);
  });

  it("turns hard-restart into ForceOff then On when no restart is offered", async () => {
    const b = await bmc({ allowableResetTypes: ["On", "ForceOff"] });
    const result = await runOne(b, "hard-restart");
    expect(result).toMatchObject({
      state: "succeeded",
      resetTypes: ["ForceOff", "On"],
      message: "ForceOff: Off, then On: On",
    });
  });

  it("fails clearly, without posting, when nothing fits", async () => {
    const b = await bmc({ allowableResetTypes: ["On", "ForceOff"] });
    const result = await runOne(b, "soft-off");
    expect(result).toMatchObject({
      state: "failed",
      message: "ResetType GracefulShutdown not allowed (allowed: On, ForceOff)",
      resetTypes: [],
    });
    expect(b.resets).toEqual([]);
  });

  it("tries the first preference when the BMC lists nothing, and passes on its refusal", async () => {
    const b = await bmc({ allowableResetTypes: null, acceptedResetTypes: ["On", "ForceOff"] });
    expect(await runOne(b, "off")).toMatchObject({ state: "succeeded", resetTypes: ["ForceOff"] });
    const refused = await runOne(b, "soft-restart");
    expect(refused.state).toBe("failed");
    expect(refused.message).toBe(
      `Redfish ${b.url}: POST /redfish/v1/Systems/437XR1138R2/Actions/ComputerSystem.Reset answered HTTP 400: ` +
        "The value 'GracefulRestart' for the parameter ResetType is not in the list of acceptable values.",
    );
    expect(b.resets.map((r) => r.resetType)).toEqual(["ForceOff"]);
  });
});

describe("a fleet of 100 BMCs", () => {
  it("powers 130 systems with at most 10 requests in flight and one task per BMC", async () => {
    // Every tenth BMC is the bladed enclosure: four systems behind one BMC.
    const fleet = await startBmcs(100, (i) => ({
      mockup: i % 10 === 0 ? "public-bladed" : "public-rackmount1",
      initialPowerState: i % 3 === 0 ? "Off" : "On",
      powerDelayMs: 5,
      restartOffMs: 10,
    }));
    toClose.push(fleet);
    const ops: PowerOperation[] = [
      "off",
      "soft-restart",
      "hard-restart",
      "init",
      "soft-off",
      "force-off",
      "on",
    ];
    const tasks: PowerTask[] = [];
    for (const [i, b] of fleet.bmcs.entries()) {
      const c = clientFor(b, { auth: i % 2 === 0 ? "session" : "basic" });
      if (b.systems.length > 1)
        for (const s of b.systems) tasks.push(task(b, ops[tasks.length % ops.length]!, c, s));
      else tasks.push(task(b, ops[tasks.length % ops.length]!, c));
    }
    expect(tasks).toHaveLength(130);

    const finals = new Map<string, PowerUpdate>();
    const results = await runPowerTasks(tasks, {
      concurrency: 10,
      perBmc: 1,
      pollMs: 10,
      deadlineMs: 5_000,
      onProgress: (id, u) => u.state !== "in-progress" && finals.set(id, u),
    });

    expect(results.filter((r) => r.state !== "succeeded")).toEqual([]);
    expect(finals.size).toBe(130);
    for (const [i, r] of results.entries()) {
      const want = ["off", "soft-off", "force-off"].includes(tasks[i]!.operation) ? "Off" : "On";
      expect(r.powerState, `${r.id} ${tasks[i]!.operation}: ${r.message}`).toBe(want);
    }
    expect(Math.max(...fleet.bmcs.map((b) => b.maxConcurrent))).toBe(1);
    const overall = fleet.maxConcurrent();
    expect(overall).toBeLessThanOrEqual(10);
    // The limit was reached, so the test says something about it.
    expect(overall).toBeGreaterThan(5);
    // Each bladed BMC was asked about each of its four systems.
    for (const b of fleet.bmcs.filter((x) => x.systems.length > 1))
      for (const system of b.systems) expect(b.requests.some((r) => r.path === system)).toBe(true);
  });
});

describe("abort", () => {
  it("aborts queued tasks without a request, lets in-flight ones say what happened, and starts nothing after", async () => {
    const fleet = await startBmcs(30, { powerDelayMs: 60 });
    toClose.push(fleet);
    const controller = new AbortController();
    let abortedAt: number | undefined;
    const callsAfterAbort: string[] = [];
    const tasks = fleet.bmcs.map((b) => {
      const real = clientFor(b);
      // Counts calls from the engine, so "nothing started after the abort" is checked where it is decided.
      const watched: PowerClient = {
        get: (path, options) => {
          if (abortedAt !== undefined) callsAfterAbort.push(`GET ${path}`);
          return real.get(path, options);
        },
        post: (path, body) => {
          if (abortedAt !== undefined) callsAfterAbort.push(`POST ${path}`);
          return real.post(path, body);
        },
      };
      return task(b, "off", watched);
    });
    const results = await runPowerTasks(tasks, {
      concurrency: 3,
      pollMs: 10,
      deadlineMs: 5_000,
      signal: controller.signal,
      onProgress: (_, u) => {
        if (u.state === "succeeded" && abortedAt === undefined) {
          abortedAt = Date.now();
          controller.abort();
        }
      },
    });

    expect(callsAfterAbort).toEqual([]);
    const byState = (s: string) => results.filter((r) => r.state === s);
    expect(byState("failed")).toEqual([]);
    expect(byState("succeeded").length).toBeGreaterThanOrEqual(1);
    const notStarted = results.filter((r) => r.message === "aborted before start");
    expect(notStarted.length).toBeGreaterThanOrEqual(15);
    for (const r of byState("aborted"))
      expect(r.message).toMatch(
        /^(aborted before start|aborted before any Reset was sent( \(last PowerState: On\))?|aborted while verifying ForceOff \(last PowerState: (On|Off)\))$/,
      );
    // Tasks that never started never reached their BMC.
    for (const r of notStarted) {
      const i = results.indexOf(r);
      expect(fleet.bmcs[i]!.requests).toEqual([]);
      expect(fleet.bmcs[i]!.powerState()).toBe("On");
    }
    // And nothing keeps polling after the run returned. (A request dropped at
    // the abort may still reach its server just after: let those land first.)
    await new Promise((r) => setTimeout(r, 30));
    const seen = fleet.bmcs.map((b) => b.requests.length);
    await new Promise((r) => setTimeout(r, 150));
    expect(fleet.bmcs.map((b) => b.requests.length)).toEqual(seen);
  });

  it("aborts tasks before start when the signal is already aborted", async () => {
    const b = await bmc();
    const results = await runPowerTasks([task(b, "off"), task(b, "on")], { signal: AbortSignal.abort() });
    expect(results.map((r) => [r.state, r.message])).toEqual([
      ["aborted", "aborted before start"],
      ["aborted", "aborted before start"],
    ]);
    expect(b.requests).toEqual([]);
  });
});

describe("failures", () => {
  it("fails a stuck BMC at the deadline, with the last PowerState", async () => {
    const b = await bmc({ faults: { stuck: true } });
    const started = Date.now();
    const result = await runOne(b, "off", { pollMs: 50, deadlineMs: 300 });
    expect(result).toMatchObject({
      state: "failed",
      message: "did not reach Off within 300 ms (last PowerState: On)",
      resetTypes: ["ForceOff"],
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    const restart = await runOne(b, "hard-restart", { pollMs: 50, deadlineMs: 200 });
    expect(restart).toMatchObject({
      state: "failed",
      message:
        "did not restart within 200 ms after ForceRestart (PowerState stayed On, LastResetTime unchanged)",
    });
  });

  it("cannot tell a stuck restart from a warm one without LastResetTime (documented leniency)", async () => {
    const b = await bmc({ mockup: "public-bladed", faults: { stuck: true } });
    const restart = await runOne(b, "hard-restart", { pollMs: 50, deadlineMs: 200 });
    expect(restart).toMatchObject({ state: "succeeded", message: "ForceRestart: On (no power-off seen)" });
  });

  it("keeps polling through a BMC's errors during the change", async () => {
    const b = await bmc({ powerDelayMs: 40 });
    const t = task(b, "off", clientFor(b, { maxAttempts: 1 }));
    const [result] = await runPowerTasks([t], {
      ...FAST,
      onProgress: (_, u) => {
        if (u.message.endsWith("sent, waiting for Off")) b.setFaults({ fail500: 2 });
      },
    });
    expect(result).toMatchObject({ state: "succeeded", message: "ForceOff: Off" });
    expect(b.requests.filter((r) => r.status === 500)).toHaveLength(2);
  });

  it("fails faulty BMCs with the client's reason while the others succeed", async () => {
    const healthy = await Promise.all([1, 2, 3].map(() => bmc({ powerDelayMs: 5 })));
    const broken = await bmc({ faults: { fail500: Number.POSITIVE_INFINITY } });
    const garbled = await bmc({ faults: { malformed: Number.POSITIVE_INFINITY } });
    const silent = await bmc({ faults: { hang: true } });
    const locked = await bmc({ password: "changed" });
    const tasks = [
      ...healthy.map((b) => task(b, "off")),
      task(broken, "off", clientFor(broken, { maxAttempts: 2 })),
      task(garbled, "off"),
      task(silent, "off", clientFor(silent, { timeoutMs: 100, maxAttempts: 2 })),
      task(locked, "off", clientFor(locked, { credentials: { username: "admin", password: "password" } })),
      task(healthy[0]!, "off", undefined, "/redfish/v1/Systems/gone"),
    ];
    const results = await runPowerTasks(tasks, FAST);
    expect(results.slice(0, 3).map((r) => r.state)).toEqual(["succeeded", "succeeded", "succeeded"]);
    const messages = results.slice(3).map((r) => [r.state, r.message]);
    expect(messages).toEqual([
      [
        "failed",
        `Redfish ${broken.url}: GET /redfish/v1/Systems answered HTTP 500 (after 2 attempts): The request failed due to an internal service error.`,
      ],
      [
        "failed",
        expect.stringMatching(/^Redfish .*: \/redfish\/v1\/Systems answered HTTP 200 that is not JSON/),
      ],
      [
        "failed",
        `Redfish ${silent.url}: /redfish/v1/Systems unreachable after 2 attempts: timed out after 100 ms`,
      ],
      ["failed", expect.stringContaining("/redfish/v1/Systems refused the credentials (HTTP 401)")],
      ["failed", `Redfish ${healthy[0]!.url}: /redfish/v1/Systems/gone not found (HTTP 404)`],
    ]);
    expect(maxConcurrency([...healthy, broken, garbled, silent, locked])).toBeLessThanOrEqual(20);
  });
});
