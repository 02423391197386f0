/**
 * One discovery message on the edge: start the scan through the control
 * API (its targets, the addresses already done, the credentials), read
 * the remaining BMCs with the Redfish discovery driver (8 at once), and
 * send each address's findings back in address order; the control plane merges them
 * into the inventory (functions/discovery/agent.ts). A cancelled scan stops
 * before its next address; an edge that stops leaves the rest to the
 * re-delivered message, which resumes after the addresses already done.
 */

import { z } from "zod";
import { addressesOf, DISCOVERY_READ_AHEAD } from "../../functions/discovery/service";
import type { RedfishCredentials } from "../../functions/node/redfish/client";
import type { RedfishDiscoveryExecutor } from "../../functions/node/redfish/discovery-executor";
import { RedfishOptionsSchema } from "../../functions/redfish/drivers";
import type { Logger } from "../../shared/log";
import { readAhead } from "../../shared/read-ahead";
import type { DiscoveryWork } from "../../shared/work";
import type { ControlClient } from "../control-client";

export interface DiscoveryWorkDeps {
  control: ControlClient;
  executor: RedfishDiscoveryExecutor;
  /** The executor's credential lookup reads here: filled from each scan's answer. */
  credentials: Map<string, RedfishCredentials>;
  logger: Logger;
}

export async function runDiscoveryWork(
  work: DiscoveryWork,
  deps: DiscoveryWorkDeps,
  stopping: AbortSignal,
): Promise<void> {
  const { control } = deps;
  const path = { params: { path: { id: work.scanId } } };
  const scan = await control.call(control.api.POST("/discovery/v1/agent/scans/{id}/start", path));
  // The control plane stored each target's options parsed; read here by the same schema, minus
  // its strictness: an option a newer control plane added is dropped, not a scan refused.
  const options = z.object(RedfishOptionsSchema.shape);
  const targets = scan.targets.map((t) => ({ ...t, options: options.parse(t.options) }));
  for (const [id, c] of Object.entries(scan.credentials)) deps.credentials.set(id, c);
  const done = new Set(scan.done.map((d) => `${d.targetId} ${d.address}`));
  const log = deps.logger.child({ scanId: scan.id });
  log.info("discovery scan running", { targets: targets.length, resumedAfter: done.size });
  const todo = addressesOf(targets).filter((a) => !done.has(`${a.target.id} ${a.address}`));
  const running = await readAhead(
    todo,
    DISCOVERY_READ_AHEAD,
    ({ target, address, index }) =>
      deps.executor
        .scan(target, address, index, stopping)
        .then((f) => ({
          found: { bmc: { id: f.bmc.id, type: f.bmc.type }, components: f.components, problems: f.problems },
        }))
        .catch((e: Error) => ({ error: e.message })),
    async (found, { target, address }) => {
      // An address interrupted by the stop is not a result: it is scanned again on re-delivery.
      if (stopping.aborted) throw stopping.reason as Error;
      const answer = await control.call(
        control.api.POST("/discovery/v1/agent/scans/{id}/results", {
          ...path,
          body: { targetId: target.id, address, ...found },
        }),
      );
      return answer.running;
    },
  );
  if (!running) {
    log.info("discovery scan cancelled");
    return;
  }
  await control.call(control.api.POST("/discovery/v1/agent/scans/{id}/finish", path));
  log.info("discovery scan finished");
}
