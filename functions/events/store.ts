/**
 * The change feed's store port: a consistent snapshot of what edge nodes
 * replicate, and the outbox events after a position.
 */
import type { Resource } from "../../shared/envelope";
import type { ChangeEvent } from "../../shared/events";

/** The lists of a snapshot, in the order they are written and applied. */
export const SNAPSHOT_RESOURCES = [
  "components",
  "interfaces",
  "groups",
  "partitions",
  "bootparams",
  "payloads",
  "revocations",
] as const;
export type SnapshotResource = (typeof SNAPSHOT_RESOURCES)[number];

/** Everything an edge node needs to boot and configure nodes, as of `position`. */
export interface Snapshot {
  /** The outbox position this snapshot reflects: follow the stream from just after it. */
  position: number;
  components: Resource<unknown>[];
  interfaces: Resource<unknown>[];
  groups: Resource<unknown>[];
  partitions: Resource<unknown>[];
  bootparams: Resource<unknown>[];
  payloads: Resource<unknown>[];
  /** Active revocations only. */
  revocations: Resource<unknown>[];
}

export interface FeedStore {
  /** This control plane's id: the `source` of its snapshots, changes and bundles. */
  source(): Promise<string>;
  snapshot(): Promise<Snapshot>;
  /** Events after `position` (at most `limit`), with the head and the oldest position still kept. */
  changes(position: number, limit: number): Promise<{ events: ChangeEvent[]; head: number; tail: number }>;
}
