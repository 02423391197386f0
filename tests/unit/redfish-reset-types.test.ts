import { describe, expect, it } from "vitest";
import { formatDuration } from "../../functions/redfish/power";
import { type PowerOperation, planReset } from "../../functions/redfish/reset-types";

/** What the DMTF rackmount and bladed mockups allow. */
const MOCKUP = [
  "On",
  "ForceOff",
  "GracefulShutdown",
  "GracefulRestart",
  "ForceRestart",
  "Nmi",
  "ForceOn",
  "PushPowerButton",
];

const steps = (op: PowerOperation, allowable?: string[]) => {
  const plan = planReset(op, allowable);
  return plan.ok ? plan.steps.map((s) => `${s.resetType}→${s.expect}`) : plan.reason;
};

describe("planReset", () => {
  it("maps every operation on a BMC that allows the usual values", () => {
    expect(steps("on", MOCKUP)).toEqual(["On→On"]);
    expect(steps("off", MOCKUP)).toEqual(["ForceOff→Off"]);
    expect(steps("force-off", MOCKUP)).toEqual(["ForceOff→Off"]);
    expect(steps("soft-off", MOCKUP)).toEqual(["GracefulShutdown→Off"]);
    expect(steps("soft-restart", MOCKUP)).toEqual(["GracefulRestart→restart"]);
    expect(steps("hard-restart", MOCKUP)).toEqual(["ForceRestart→restart"]);
    expect(steps("init", MOCKUP)).toEqual(["ForceOff→Off", "On→On"]);
  });

  it("takes the first preference the BMC allows", () => {
    expect(steps("on", ["ForceOn", "ForceOff"])).toEqual(["ForceOn→On"]);
    expect(steps("off", ["On", "GracefulShutdown"])).toEqual(["GracefulShutdown→Off"]);
    expect(steps("hard-restart", ["PowerCycle", "On"])).toEqual(["PowerCycle→restart"]);
    expect(steps("init", ["GracefulShutdown", "ForceOn"])).toEqual(["GracefulShutdown→Off", "ForceOn→On"]);
  });

  it("turns hard-restart into ForceOff then On when no restart is allowed", () => {
    expect(steps("hard-restart", ["ForceOff", "ForceOn"])).toEqual(["ForceOff→Off", "ForceOn→On"]);
  });

  it("uses the first preference when the BMC lists nothing", () => {
    expect(steps("on")).toEqual(["On→On"]);
    expect(steps("soft-off", [])).toEqual(["GracefulShutdown→Off"]);
    expect(steps("hard-restart")).toEqual(["ForceRestart→restart"]);
  });

  it("says which ResetType is missing and what is allowed", () => {
    expect(steps("soft-off", ["On", "ForceOff"])).toBe(
      "ResetType GracefulShutdown not allowed (allowed: On, ForceOff)",
    );
    expect(steps("force-off", ["On", "GracefulShutdown"])).toBe(
      "ResetType ForceOff not allowed (allowed: On, GracefulShutdown)",
    );
    expect(steps("on", ["ForceOff"])).toBe("ResetType On or ForceOn not allowed (allowed: ForceOff)");
    expect(steps("hard-restart", ["On", "Nmi"])).toBe(
      "ResetType ForceRestart or PowerCycle not allowed, nor ForceOff then On (allowed: On, Nmi)",
    );
    expect(steps("init", ["ForceOff"])).toBe("ResetType On or ForceOn not allowed (allowed: ForceOff)");
  });

  it("refuses an operation it does not know instead of throwing", () => {
    expect(steps("reboot" as PowerOperation, MOCKUP)).toBe(
      'unknown power operation "reboot" (known: on, off, soft-off, soft-restart, hard-restart, init, force-off)',
    );
  });

  it("never toggles with PushPowerButton", () => {
    expect(steps("off", ["PushPowerButton"])).toBe(
      "ResetType ForceOff or GracefulShutdown not allowed (allowed: PushPowerButton)",
    );
  });
});

describe("formatDuration", () => {
  it("reads like a person would write it", () => {
    expect(formatDuration(300)).toBe("300 ms");
    expect(formatDuration(1500)).toBe("1.5 s");
    expect(formatDuration(120_000)).toBe("2 min");
    expect(formatDuration(90_000)).toBe("1.5 min");
  });
});
