/**
 * What scans one address of a target, seen from the agent that runs scans:
 * the control plane's in-process Redfish executor today
 * (control/node/discovery-executor.ts); an edge agent can take its place
 * for targets with a site.
 */
import type { BmcDiscovery } from "../../edge-node/redfish/discovery";
import type { Target } from "./schemas";

export interface DiscoveryExecutor {
  /**
   * Scans the BMC at `address` (one of `target.addresses`; `index` is its
   * position there). Rejects with an error whose message says what failed
   * (unreachable, wrong credentials, not Redfish).
   */
  scan(target: Target, address: string, index: number, signal: AbortSignal): Promise<BmcDiscovery>;
}
