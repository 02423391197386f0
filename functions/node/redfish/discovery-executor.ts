/**
 * The in-process discovery executor: scans one BMC with the Redfish
 * discovery driver (functions/redfish/discovery.ts) straight from the
 * control plane, for installs where the control plane can reach the BMCs.
 * The target's credential is unsealed only here, just before use; the
 * client is closed after the scan.
 */

import type { DiscoveryExecutor } from "../../discovery/executor";
import type { Target } from "../../discovery/schemas";
import { type BmcDiscovery, discoverBmc } from "../../redfish/discovery";
import { RedfishUnauthorized } from "../../redfish/errors";
import { RedfishClient, type RedfishClientOptions, type RedfishCredentials } from "./client";

export interface RedfishDiscoveryExecutorOptions {
  /** A credential's user name and password; undefined when it does not exist. */
  credentials: (credentialId: string) => Promise<RedfishCredentials | undefined>;
  /** Client tunables (timeouts, retries) for every BMC. */
  client?: Partial<Omit<RedfishClientOptions, "baseUrl" | "credentials" | "auth" | "insecure">>;
}

export class RedfishDiscoveryExecutor implements DiscoveryExecutor {
  constructor(private readonly o: RedfishDiscoveryExecutorOptions) {}

  async scan(target: Target, address: string, index: number, signal: AbortSignal): Promise<BmcDiscovery> {
    let credentials: RedfishCredentials | undefined;
    try {
      credentials = await this.o.credentials(target.credentialId);
    } catch (e) {
      throw new Error(`cannot read credential '${target.credentialId}': ${(e as Error).message}`);
    }
    if (!credentials)
      throw new Error(
        `the credential '${target.credentialId}' of target '${target.id}' does not exist (store it with POST /auth/v1/credentials)`,
      );
    const client = new RedfishClient({
      ...this.o.client,
      baseUrl: address,
      credentials,
      auth: target.options.auth,
      insecure: target.options.insecure,
    });
    try {
      // The service root answers anyone (as on real BMCs): ask for something behind the
      // credentials first, so that wrong ones are one clear error and not a scan of problems.
      try {
        await client.get("/redfish/v1/Managers", { signal });
      } catch (e) {
        if (e instanceof RedfishUnauthorized)
          throw new Error(
            `the BMC at ${address} refused the credential '${target.credentialId}' (HTTP ${e.status}): check its user name and password`,
          );
        throw e;
      }
      return await discoverBmc(client, {
        address: new URL(address).hostname,
        index,
        ...(target.options.naming ? { naming: target.options.naming } : {}),
      });
    } finally {
      await client.close().catch(() => {});
    }
  }
}
