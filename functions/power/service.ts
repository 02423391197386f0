/**
 * Power rules that are not storage: BMC endpoint defaults and merge patch,
 * turning a request into a transition (group expansion, the bulk cap,
 * resolution), and recording a verified power state in the inventory.
 */
import { guardedUpdate } from "../../shared/http/conditional";
import { ApiError } from "../../shared/problem";
import { mergeComponent } from "../inventory/service";
import type { InventoryStore } from "../inventory/store";
import type { Stores } from "../stores";
import { inventoryStateAfter, resolveTasks, targetList, taskBudgetMs } from "./resolve";
import {
  type BmcEndpoint,
  type BmcEndpointCreate,
  type BmcEndpointPatch,
  type BmcEndpointReplace,
  DEFAULT_DEADLINE_MINUTES,
  type PowerOperation,
} from "./schemas";

/** What the power routes need from the entry point. */
export interface PowerSettings {
  /** Nodes one request may name (CHAMICORE_POWER_MAX_NODES). */
  maxNodes: number;
  /** Tells the in-process agent that there is work (or an abort); unset where none runs. */
  wake?: () => void;
}

export const DEFAULT_MAX_NODES = 20;

/** The convenience actions and the operations they stand for. */
export const ACTIONS = {
  on: "on",
  off: "off",
  reboot: "soft-restart",
  reset: "hard-restart",
} as const satisfies Record<string, PowerOperation>;
export type PowerActionName = keyof typeof ACTIONS;

/** A full endpoint from a create or replace body. */
export function buildBmc(input: BmcEndpointCreate | BmcEndpointReplace, id: string): BmcEndpoint {
  checkPathId(input.id, id);
  return {
    id,
    address: input.address,
    credentialId: input.credentialId,
    auth: input.auth ?? "basic",
    insecure: input.insecure ?? false,
    site: input.site ?? null,
  };
}

/** RFC 7396 over an endpoint: absent keeps, null resets auth, insecure and site to their defaults. */
export function mergeBmc(current: BmcEndpoint, patch: BmcEndpointPatch): BmcEndpoint {
  checkPathId(patch.id, current.id);
  const pick = <K extends "auth" | "insecure" | "site">(k: K, reset: BmcEndpoint[K]): BmcEndpoint[K] => {
    const v = patch[k];
    return v === undefined ? current[k] : v === null ? reset : (v as BmcEndpoint[K]);
  };
  return {
    id: current.id,
    address: patch.address ?? current.address,
    credentialId: patch.credentialId ?? current.credentialId,
    auth: pick("auth", "basic"),
    insecure: pick("insecure", false),
    site: pick("site", null),
  };
}

function checkPathId(bodyId: string | undefined, pathId: string) {
  if (bodyId !== undefined && bodyId !== pathId)
    throw new ApiError("validation", "The id in the body differs from the one in the path", {
      errors: [{ field: "id", message: `must be '${pathId}' (the id in the path) or absent` }],
    });
}

export interface TransitionRequest {
  operation: PowerOperation;
  taskDeadlineMinutes?: number | undefined;
  xnames: readonly string[];
  group?: string | undefined;
  dryRun?: boolean | undefined;
  /** The body field that holds the xnames, for error messages: location, or nodes for the actions. */
  xnamesField: string;
}

/**
 * Expands the group, applies the bulk cap, resolves every node to its BMC
 * and stores the transition with one task per node. 422 for a group or
 * xnames that do not exist and for too many nodes.
 */
export async function createTransition(
  stores: Pick<Stores, "inventory" | "power">,
  settings: PowerSettings,
  request: TransitionRequest,
  requestedBy: string,
) {
  let group: { name: string; members: string[] } | undefined;
  if (request.group !== undefined) {
    const g = await stores.inventory.getGroup("group", request.group);
    if (!g)
      throw new ApiError("validation", `group '${request.group}' does not exist`, {
        errors: [{ field: "group", message: `group '${request.group}' does not exist in the inventory` }],
      });
    group = { name: g.spec.name, members: g.spec.members };
  }
  const xnames = targetList(request.xnames, group, settings.maxNodes, request.xnamesField);
  const found = await stores.power.targets(xnames);
  const dryRun = request.dryRun ?? false;
  const tasks = resolveTasks(xnames, found, {
    operation: request.operation,
    dryRun,
    locationField: request.xnamesField,
  });
  const minutes = request.taskDeadlineMinutes ?? DEFAULT_DEADLINE_MINUTES;
  const row = await stores.power.createTransition(
    {
      id: crypto.randomUUID(),
      operation: request.operation,
      taskDeadlineMinutes: minutes,
      dryRun,
      requestedBy,
      deadlineAt: new Date(Date.now() + taskBudgetMs(request.operation, minutes)),
    },
    tasks,
  );
  if (tasks.some((t) => t.state === "new")) settings.wake?.();
  return row;
}

/**
 * Records a verified power operation in the inventory through its normal
 * write path (so the component's change event follows): On or Off, unless
 * the component already says so (Ready counts as On). Returns the state
 * written, or undefined when nothing changed.
 */
export async function recordPowerState(
  inventory: InventoryStore,
  xname: string,
  operation: PowerOperation,
): Promise<"On" | "Off" | undefined> {
  const target = inventoryStateAfter(operation);
  const restart = operation === "soft-restart" || operation === "hard-restart" || operation === "init";
  const current = await inventory.getComponent(xname);
  if (!current) return undefined;
  const state = current.spec.state;
  // After a restart the node is On but no longer Ready: it has yet to boot.
  if (state === target || (target === "On" && state === "Ready" && !restart)) return undefined;
  await guardedUpdate({
    what: "component",
    id: xname,
    wanted: undefined,
    read: () => inventory.getComponent(xname),
    change: (c) => mergeComponent(c, { state: target }),
    write: (next, etag) => inventory.updateComponent(next, etag),
  });
  return target;
}
