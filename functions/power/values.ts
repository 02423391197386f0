/**
 * Power control's operations and states (OpenCHAMI PCS's), without zod, so
 * that the web UI's bundle can take them; their schemas are in ./schemas.ts.
 */

/**
 * PCS operations, also the Redfish engine's (functions/redfish/reset-types.ts).
 */
export const POWER_OPERATIONS = [
  "on",
  "off",
  "soft-off",
  "soft-restart",
  "hard-restart",
  "init",
  "force-off",
] as const;
export type PowerOperation = (typeof POWER_OPERATIONS)[number];

export const TRANSITION_STATES = ["new", "in-progress", "completed", "aborted", "abort-signaled"] as const;
export type TransitionState = (typeof TRANSITION_STATES)[number];
/** A transition in one of these changes no more. */
export const FINAL_TRANSITION_STATES: readonly TransitionState[] = ["completed", "aborted"];

export const TASK_STATES = ["new", "planned", "in-progress", "succeeded", "failed", "aborted"] as const;
export type TaskState = (typeof TASK_STATES)[number];
/** A task in one of these changes no more. */
export const FINAL_TASK_STATES: readonly TaskState[] = ["planned", "succeeded", "failed", "aborted"];

/** PCS power states: what the BMC last said, or `undefined` when nothing says. */
export const POWER_STATES = ["on", "off", "undefined"] as const;
export type PowerState = (typeof POWER_STATES)[number];

/** Operations that interrupt what a node runs: the UI and the MCP tools ask before them. */
export const INTERRUPTING_OPERATIONS: readonly PowerOperation[] = [
  "off",
  "soft-off",
  "soft-restart",
  "hard-restart",
  "init",
  "force-off",
];
