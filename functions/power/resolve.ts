/**
 * Which BMC powers which node: pure functions from what was asked and what
 * the inventory says to one task per node. Problems with one node (no BMC,
 * no endpoint, no credential) fail that node's task with a message that
 * says how to fix it; only a request that cannot be right as a whole
 * (nothing asked, too many nodes, names that do not exist) is refused.
 */
import { ApiError } from "../../shared/problem";
import type { PowerOperation } from "./schemas";
import type { NewTask, PowerTarget } from "./store";

/** Component types that a power request may name. */
export const POWERABLE_TYPES: readonly string[] = ["Node"];
/** Component types whose endpoint powers their child nodes. */
export const BMC_TYPES: readonly string[] = ["NodeBMC"];

export const BMCS_PATH = "/power/v1/bmcs";

/**
 * The nodes of a request: `location` then the group's members, without
 * repeats, in that order. 422 when there are none or more than `maxNodes`.
 * `groupMembers` is undefined when no group was asked for.
 */
export function targetList(
  location: readonly string[],
  group: { name: string; members: readonly string[] } | undefined,
  maxNodes: number,
  locationField = "location",
): string[] {
  const xnames = [...new Set([...location, ...(group?.members ?? [])])];
  if (xnames.length === 0) {
    if (group)
      throw new ApiError("validation", `group '${group.name}' has no members: there is nothing to power`, {
        errors: [{ field: "group", message: "has no members" }],
      });
    throw new ApiError("validation", `Name the nodes: ${locationField}, group, or both`, {
      errors: [
        { field: locationField, message: "give at least one node, or a group" },
        { field: "group", message: "give a group, or nodes" },
      ],
    });
  }
  if (xnames.length > maxNodes)
    throw new ApiError(
      "validation",
      `This request names ${xnames.length} nodes; at most ${maxNodes} may be powered in one request (CHAMICORE_POWER_MAX_NODES). Split it into several.`,
      {
        errors: [
          {
            field: group ? "group" : locationField,
            message: `${xnames.length} nodes; the limit is ${maxNodes}`,
          },
        ],
      },
    );
  return xnames;
}

/**
 * One task per asked-for node, in the order asked. 422 naming every xname
 * that is not in the inventory. With `dryRun`, resolvable nodes are
 * `planned` (no BMC is contacted); otherwise `new`, for the agent of the
 * endpoint's site.
 */
export function resolveTasks(
  xnames: readonly string[],
  found: readonly PowerTarget[],
  opts: { operation: PowerOperation; dryRun: boolean; locationField?: string },
): NewTask[] {
  const byId = new Map(found.map((t) => [t.id, t]));
  const unknown = xnames.filter((x) => !byId.has(x));
  if (unknown.length > 0) {
    const shown =
      unknown.slice(0, 20).join(", ") + (unknown.length > 20 ? `, and ${unknown.length - 20} more` : "");
    throw new ApiError(
      "validation",
      `${unknown.length === 1 ? "This node is" : `${unknown.length} nodes are`} not in the inventory: ${shown}`,
      {
        errors: unknown
          .slice(0, 100)
          .map((x) => ({ field: opts.locationField ?? "location", message: `'${x}' does not exist` })),
      },
    );
  }
  return xnames.map((x) => taskFor(byId.get(x)!, opts));
}

function taskFor(t: PowerTarget, opts: { operation: PowerOperation; dryRun: boolean }): NewTask {
  const failed = (message: string, bmcId: string | null = null): NewTask => ({
    xname: t.id,
    bmcId,
    state: "failed",
    message,
    site: null,
  });
  if (!POWERABLE_TYPES.includes(t.type))
    return failed(
      `${t.id} is a ${t.type}, not a node: only ${POWERABLE_TYPES.join(", ")} components are powered`,
    );
  if (!t.parent)
    return failed(
      `${t.id} has no BMC: set its parentId to its NodeBMC (PATCH /hsm/v2/State/Components/${t.id})`,
    );
  if (!BMC_TYPES.includes(t.parent.type))
    return failed(
      `the parent of ${t.id}, ${t.parent.id}, is a ${t.parent.type}, not a ${BMC_TYPES.join(" or ")}: set ${t.id}'s parentId to its BMC`,
    );
  if (!t.endpoint)
    return failed(`no BMC endpoint for ${t.parent.id} (create one with POST ${BMCS_PATH})`, t.parent.id);
  if (!t.credentialExists)
    return failed(
      `the credential '${t.endpoint.credentialId}' of BMC ${t.endpoint.id} does not exist (store it with POST /auth/v1/credentials, or change the endpoint)`,
      t.endpoint.id,
    );
  const where = t.endpoint.site === null ? "" : ` by the agent of site '${t.endpoint.site}'`;
  if (opts.dryRun)
    return {
      xname: t.id,
      bmcId: t.endpoint.id,
      state: "planned",
      message: `would run ${opts.operation} through BMC ${t.endpoint.id} at ${t.endpoint.address}${where}`,
      site: t.endpoint.site,
    };
  return {
    xname: t.id,
    bmcId: t.endpoint.id,
    state: "new",
    message: `queued${where}`,
    site: t.endpoint.site,
  };
}

/**
 * Which of its BMC's ComputerSystems a node is: `<bmc>n<i>` (or
 * `<bmc>-n<i>`, as discovery names nodes of BMCs without an xname) is the
 * i-th member of the BMC's Systems collection; any other name, the first.
 */
export function systemIndexOf(xname: string, bmcId: string): number {
  const lower = xname.toLowerCase();
  const base = bmcId.toLowerCase();
  for (const sep of ["n", "-n"]) {
    const prefix = base + sep;
    if (lower.startsWith(prefix) && /^\d+$/.test(lower.slice(prefix.length)))
      return Number(lower.slice(prefix.length));
  }
  return 0;
}

/** The inventory state a verified operation leaves the node in. */
export function inventoryStateAfter(operation: PowerOperation): "On" | "Off" {
  return operation === "off" || operation === "soft-off" || operation === "force-off" ? "Off" : "On";
}

/** Steps an operation may take: init, and hard-restart on a BMC without ForceRestart, are an off then an on. */
const stepsOf = (operation: PowerOperation) => (operation === "init" || operation === "hard-restart" ? 2 : 1);

/** Slack beyond the Resets' deadlines for reads, retries and waiting for a busy BMC. */
export const TASK_SLACK_MS = 60_000;

/**
 * How long a task may take in all: each Reset its deadline, plus slack.
 * Past it, a task that no running agent holds is failed (see `PowerQueue.failOverdue`).
 */
export function taskBudgetMs(operation: PowerOperation, taskDeadlineMinutes: number): number {
  return stepsOf(operation) * taskDeadlineMinutes * 60_000 + TASK_SLACK_MS;
}

/** The deadline of tasks claimed or started now: their budget from now (for `PowerQueue.claim` and `lease`). */
export const budgetFromNow = (job: { operation: PowerOperation; taskDeadlineMinutes: number }) =>
  new Date(Date.now() + taskBudgetMs(job.operation, job.taskDeadlineMinutes));
