/** The edge node's SQLite replica and its read stores. */
export { addressKey } from "./addresses";
export { ReplicaEventError, type ReplicatedResource } from "./events";
export { ReplicaBootStore, ReplicaCloudInitStore } from "./read-stores";
export {
  REPLICA_FILE,
  REPLICA_MIGRATIONS_DIR,
  Replica,
  type ReplicaOptions,
  type ReplicaStatus,
} from "./replica";
export { registerReplicaServing, replicaStores } from "./serving";
