/** Every store port a request can reach, set by the entry point per request. */
import type { ArtifactStore } from "./artifacts/store";
import type { AuditStore } from "./audit/store";
import type { AuthStores } from "./auth/store";
import type { BootStore } from "./boot/store";
import type { CloudInitStore } from "./cloud-init/store";
import type { DiscoveryQueue, DiscoveryStore } from "./discovery/store";
import type { FeedStore } from "./events/store";
import type { InventoryStore, SystemStore } from "./inventory/store";
import type { PowerQueue, PowerStore } from "./power/store";
import type { ProgressStore } from "./progress/store";

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
  /** Boot progress and edge reports (control plane only: an edge sends its own to it). */
  progress: ProgressStore;
  /** Boot artifacts' metadata (control plane only: an edge knows the artifacts its boot parameters name). */
  artifacts: ArtifactStore;
}
