/**
 * Which `ComputerSystem.Reset` ResetType(s) carry out a power operation on a
 * given BMC. Each operation has a preference list; the first entry that the
 * BMC lists in `ResetType@Redfish.AllowableValues` wins. A BMC that lists
 * nothing gets the first preference (the Redfish default set has it, and a
 * BMC that lacks it says so with a 400 that names the value).
 *
 * Choices worth knowing:
 * - `off` is ForceOff, falling back to GracefulShutdown on a BMC that only
 *   offers that; `force-off` is ForceOff or nothing.
 * - PushPowerButton is never used: it toggles, so the result depends on
 *   the state at the moment it lands.
 * - `hard-restart` without ForceRestart or PowerCycle becomes an off then
 *   an on; `init` is always an off then an on.
 */

import { POWER_OPERATIONS, type PowerOperation } from "../power/schemas";

export { POWER_OPERATIONS, type PowerOperation };

/** What a step waits for: a PowerState, or a restart (seen going down and up, or On again). */
export type PowerTarget = "On" | "Off" | "restart";

export interface ResetStep {
  resetType: string;
  expect: PowerTarget;
}

export type ResetPlan = { ok: true; steps: ResetStep[] } | { ok: false; reason: string };

const ON = ["On", "ForceOn"];
const OFF = ["ForceOff", "GracefulShutdown"];

const SINGLE: Record<
  Exclude<PowerOperation, "hard-restart" | "init">,
  { prefs: string[]; expect: PowerTarget }
> = {
  on: { prefs: ON, expect: "On" },
  off: { prefs: OFF, expect: "Off" },
  "force-off": { prefs: ["ForceOff"], expect: "Off" },
  "soft-off": { prefs: ["GracefulShutdown"], expect: "Off" },
  "soft-restart": { prefs: ["GracefulRestart"], expect: "restart" },
};

const RESTART = ["ForceRestart", "PowerCycle"];

/**
 * The steps for `operation` on a BMC that allows `allowable` (undefined or
 * empty: it did not say), or why none fits.
 */
export function planReset(operation: PowerOperation, allowable: readonly string[] | undefined): ResetPlan {
  const listed = allowable && allowable.length > 0 ? allowable : undefined;
  const pick = (prefs: readonly string[]) => (listed ? prefs.find((p) => listed.includes(p)) : prefs[0]);
  const refuse = (wanted: string, extra = ""): ResetPlan => ({
    ok: false,
    reason: `ResetType ${wanted} not allowed${extra} (allowed: ${listed?.join(", ")})`,
  });

  if (operation === "hard-restart") {
    const restart = pick(RESTART);
    if (restart) return { ok: true, steps: [{ resetType: restart, expect: "restart" }] };
    const off = pick(["ForceOff"]);
    const on = pick(ON);
    if (off && on)
      return {
        ok: true,
        steps: [
          { resetType: off, expect: "Off" },
          { resetType: on, expect: "On" },
        ],
      };
    return refuse(RESTART.join(" or "), ", nor ForceOff then On");
  }
  if (operation === "init") {
    const off = pick(OFF);
    if (!off) return refuse(OFF.join(" or "));
    const on = pick(ON);
    if (!on) return refuse(ON.join(" or "));
    return {
      ok: true,
      steps: [
        { resetType: off, expect: "Off" },
        { resetType: on, expect: "On" },
      ],
    };
  }
  // Operations arrive from JSON: an unknown one must fail its task, not throw.
  if (!Object.hasOwn(SINGLE, operation))
    return {
      ok: false,
      reason: `unknown power operation "${operation}" (known: ${POWER_OPERATIONS.join(", ")})`,
    };
  const { prefs, expect } = SINGLE[operation as keyof typeof SINGLE];
  const chosen = pick(prefs);
  return chosen ? { ok: true, steps: [{ resetType: chosen, expect }] } : refuse(prefs.join(" or "));
}
