/**
 * The in-process power executor: runs a job's tasks with the Redfish power
 * engine (functions/redfish/power.ts) straight from the control plane, for
 * installs where the control plane can reach the BMCs. One `PowerLimits`
 * for all jobs, so that transitions running at once stay within
 * CHAMICORE_POWER_CONCURRENCY requests in all and one task per BMC.
 *
 * Per BMC it opens one Redfish client with the endpoint's credential
 * (unsealed only here, just before use) and closes it after the job. A
 * node named `<bmc>n<i>` is the i-th system of its BMC; for i > 0 the BMC's
 * Systems collection is read first to find it.
 */

import type { PowerExecutor, PowerJob, PowerJobTask } from "../../power/executor";
import { systemIndexOf } from "../../power/resolve";
import type { BmcEndpoint } from "../../power/schemas";
import type { TaskResult, TaskUpdate } from "../../power/store";
import { PowerLimits, type PowerTask, runPowerTasks } from "../../redfish/power";
import { RedfishClient, type RedfishClientOptions, type RedfishCredentials } from "./client";

const SYSTEMS = "/redfish/v1/Systems";

export interface RedfishPowerExecutorOptions {
  /** Requests in flight across all BMCs and jobs. Default 20. */
  concurrency?: number;
  /** Time between two reads of PowerState. Default 2 s. */
  pollMs?: number;
  /** A credential's user name and password; undefined when it does not exist. */
  credentials: (credentialId: string) => Promise<RedfishCredentials | undefined>;
  /** Client tunables (timeouts, retries) for every BMC. */
  client?: Partial<Omit<RedfishClientOptions, "baseUrl" | "credentials" | "auth" | "insecure">>;
}

export class RedfishPowerExecutor implements PowerExecutor {
  private readonly limits: PowerLimits;

  constructor(private readonly o: RedfishPowerExecutorOptions) {
    this.limits = new PowerLimits(o.concurrency ?? 20, 1);
  }

  async run(
    job: PowerJob,
    opts: { signal: AbortSignal; onProgress: (update: TaskUpdate) => void },
  ): Promise<TaskResult[]> {
    const results = new Map<string, TaskResult>();
    const fail = (t: PowerJobTask, message: string) =>
      results.set(t.id, { taskId: t.id, state: "failed", message });
    const clients = new Map<string, RedfishClient>();
    try {
      const ready: PowerTask[] = [];
      for (const [bmc, tasks] of byBmc(job.tasks, fail)) {
        const client = await this.clientFor(bmc).catch((e: Error) => e);
        if (client instanceof Error) {
          for (const t of tasks) fail(t, client.message);
          continue;
        }
        clients.set(bmc.id, client);
        const systems = await this.systemsOf(bmc, client, tasks, opts.signal);
        for (const t of tasks) {
          const system = systems.get(t.id);
          if (system?.failed !== undefined) {
            results.set(t.id, {
              taskId: t.id,
              state: opts.signal.aborted ? "aborted" : "failed",
              message: opts.signal.aborted ? "aborted before start" : system.failed,
            });
            continue;
          }
          ready.push({
            id: t.id,
            xname: t.xname,
            bmc: { key: bmc.id, client },
            operation: job.operation,
            ...(system?.path ? { systemPath: system.path } : {}),
          });
        }
      }
      const ran = await runPowerTasks(ready, {
        limits: this.limits,
        deadlineMs: job.deadlineMs,
        pollMs: this.o.pollMs ?? 2_000,
        signal: opts.signal,
        onProgress: (taskId, u) => {
          if (u.state === "in-progress")
            opts.onProgress({ taskId, message: u.message, powerState: u.powerState });
        },
      });
      for (const r of ran)
        results.set(r.id, { taskId: r.id, state: r.state, message: r.message, powerState: r.powerState });
    } finally {
      // Session logouts are requests too: they wait for a slot like any other.
      await Promise.all([...clients.values()].map((c) => this.limits.requests.run(() => c.close())));
    }
    return job.tasks.map(
      (t) => results.get(t.id) ?? { taskId: t.id, state: "failed", message: "not run (internal error)" },
    );
  }

  private async clientFor(bmc: BmcEndpoint): Promise<RedfishClient> {
    let credentials: RedfishCredentials | undefined;
    try {
      credentials = await this.o.credentials(bmc.credentialId);
    } catch (e) {
      throw new Error(
        `cannot read credential '${bmc.credentialId}' of BMC ${bmc.id}: ${(e as Error).message}`,
      );
    }
    if (!credentials)
      throw new Error(
        `the credential '${bmc.credentialId}' of BMC ${bmc.id} does not exist (store it with POST /auth/v1/credentials)`,
      );
    try {
      return new RedfishClient({
        ...this.o.client,
        baseUrl: bmc.address,
        credentials,
        auth: bmc.auth,
        insecure: bmc.insecure,
      });
    } catch (e) {
      throw new Error(`BMC ${bmc.id} at ${bmc.address}: ${(e as Error).message}`);
    }
  }

  /**
   * The system path of each task whose node is not its BMC's first system,
   * from one read of the BMC's Systems collection within the limits.
   */
  private async systemsOf(
    bmc: BmcEndpoint,
    client: RedfishClient,
    tasks: PowerJobTask[],
    signal: AbortSignal,
  ): Promise<Map<string, { path?: string; failed?: string }>> {
    const out = new Map<string, { path?: string; failed?: string }>();
    const wanted = tasks.map((t) => ({ t, i: systemIndexOf(t.xname, bmc.id) })).filter((w) => w.i > 0);
    if (wanted.length === 0) return out;
    let members: string[];
    try {
      members = await this.limits
        .bmc(bmc.id)
        .run(() => this.limits.requests.run(() => client.members(SYSTEMS, { signal }), { signal }), {
          signal,
        });
    } catch (e) {
      for (const w of wanted)
        out.set(w.t.id, { failed: `cannot list the systems of BMC ${bmc.id}: ${(e as Error).message}` });
      return out;
    }
    for (const { t, i } of wanted) {
      const path = members[i];
      out.set(
        t.id,
        path
          ? { path }
          : {
              failed: `BMC ${bmc.id} has ${members.length} system(s); ${t.xname} would be system ${i} (counting from 0)`,
            },
      );
    }
    return out;
  }
}

/** The tasks grouped by their BMC endpoint; tasks without one are failed through `fail`. */
function byBmc(tasks: PowerJobTask[], fail: (t: PowerJobTask, message: string) => void) {
  const out = new Map<string, [BmcEndpoint, PowerJobTask[]]>();
  for (const t of tasks) {
    if (!t.bmc) {
      fail(
        t,
        t.bmcId
          ? `the BMC endpoint of ${t.bmcId} was deleted after this transition was created`
          : `${t.xname} has no BMC endpoint`,
      );
      continue;
    }
    const entry = out.get(t.bmc.id) ?? [t.bmc, []];
    entry[1].push(t);
    out.set(t.bmc.id, entry);
  }
  return [...out.values()];
}
