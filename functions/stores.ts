/** Every store port a request can reach, set by the entry point per request. */
import type { AuthStores } from "./auth/store";
import type { BootStore } from "./boot/store";
import type { CloudInitStore } from "./cloud-init/store";
import type { DiscoveryStore } from "./discovery/store";
import type { FeedStore } from "./events/store";
import type { InventoryStore, SystemStore } from "./inventory/store";
import type { PowerStore } from "./power/store";

export interface Stores {
  inventory: InventoryStore;
  system: SystemStore;
  auth: AuthStores;
  feed: FeedStore;
  cloudInit: CloudInitStore;
  boot: BootStore;
  power: PowerStore;
  discovery: DiscoveryStore;
}
