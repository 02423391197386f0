/** Every store port a request can reach, set by the entry point per request. */
import type { AuditStore } from "./audit/store";
import type { AuthStores } from "./auth/store";
import type { BootStore } from "./boot/store";
import type { CloudInitStore } from "./cloud-init/store";
import type { DiscoveryQueue, DiscoveryStore } from "./discovery/store";
import type { FeedStore } from "./events/store";
import type { InventoryStore, SystemStore } from "./inventory/store";
import type { PowerQueue, PowerStore } from "./power/store";

export interface Stores {
  inventory: InventoryStore;
  system: SystemStore;
  auth: AuthStores;
  feed: FeedStore;
  cloudInit: CloudInitStore;
  boot: BootStore;
  /** Both ports: the agent endpoints (power/agent.ts) run the queue for edge agents. */
  power: PowerStore & PowerQueue;
  /** Both ports: the agent endpoints (discovery/agent.ts) run the queue for edge agents. */
  discovery: DiscoveryStore & DiscoveryQueue;
  /** The audit trail (control plane only: the edge has no writes). */
  audit: AuditStore;
}
