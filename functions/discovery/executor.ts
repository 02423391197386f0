/**
 * What scans one address of a target: the Redfish executor
 * (functions/node/redfish/discovery-executor.ts), in the control plane's own
 * agent for targets without a site and in an edge's agent for its site's
 * (edge-node/agent/discovery-work.ts).
 */
import type { BmcDiscovery } from "../redfish/discovery";
import type { Target } from "./schemas";

export interface DiscoveryExecutor {
  /**
   * Scans the BMC at `address` (one of `target.addresses`; `index` is its
   * position there). Rejects with an error whose message says what failed
   * (unreachable, wrong credentials, not Redfish).
   */
  scan(target: Target, address: string, index: number, signal: AbortSignal): Promise<BmcDiscovery>;
}
