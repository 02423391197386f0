/**
 * The cloud-init store ports. Serving needs only `CloudInitReadStore`: the
 * control plane implements it over Postgres (control/stores/cloud-init.ts),
 * an edge node over its SQLite replica, tests in memory. The payload CRUD
 * adds `CloudInitStore`, which only the control plane has.
 */

import type { Role } from "../../shared/enums";
import type { Stored } from "../../shared/envelope";
import type { ListQuery } from "../../shared/list-query";
import type { Page } from "../inventory/store";
import type { Payload } from "./schemas";

/** What serving needs to know about a node: its identity and where it lives on the network. */
export interface NodeFacts {
  id: string;
  nid: number | null;
  role: Role | null;
  /** Names of the groups (not partitions) the node is a member of, in any order. */
  groups: string[];
  interfaces: {
    id: string;
    macAddress: string;
    ipAddresses: { ipAddress: string; network: string | null }[];
  }[];
}

export interface CloudInitReadStore {
  /** The component with this id, as a node. */
  nodeById(id: string): Promise<NodeFacts | undefined>;
  /** The component owning the interface with this MAC (normalised `aa:bb:cc:dd:ee:ff`). */
  nodeByMac(mac: string): Promise<NodeFacts | undefined>;
  /**
   * Ids of the components with an interface holding `address` (canonical
   * text, see shared/http/client-address.ts), sorted; two are enough to
   * tell that the address is ambiguous, so a store may stop there.
   */
  componentsWithAddress(address: string): Promise<string[]>;
  /** The payloads whose target is the component, one of the groups or the role, in any order. */
  payloadsFor(target: { componentId: string; groups: string[]; role: string | null }): Promise<Payload[]>;
}

/**
 * Payload CRUD. Stores check inside their transaction that the target exists
 * (422 naming the field) and is not taken by another payload (409), and
 * write a change event with every mutation.
 */
export interface CloudInitStore extends CloudInitReadStore {
  listPayloads(q: ListQuery): Promise<Page<Payload>>;
  getPayload(id: string): Promise<Stored<Payload> | undefined>;
  createPayload(p: Payload): Promise<Stored<Payload>>;
  /** Replaces the payload whose stored etag is `ifMatch` (412 otherwise, 404 when missing). */
  updatePayload(p: Payload, ifMatch: string): Promise<Stored<Payload>>;
  deletePayload(id: string): Promise<void>;
}
