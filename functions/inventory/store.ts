/**
 * The inventory's store port. Handlers and services see only this; the
 * control plane implements it over Postgres (control/stores/inventory/).
 *
 * Stores keep integrity under concurrency (unique MACs, partition
 * exclusivity, existing parents and members) inside their transactions and
 * throw `ApiError`s that say which field is wrong.
 */
import type { Stored } from "../../shared/envelope";
import type { ListQuery } from "../../shared/list-query";
import type { Component, Group, Interface, InventorySummary } from "./schemas";

export interface Page<T> {
  rows: Stored<T>[];
  total: number;
}

export interface NewComponent {
  component: Component;
  interfaces: Interface[];
}

export type GroupKind = "group" | "partition";

export interface InventoryStore {
  listComponents(q: ListQuery): Promise<Page<Component>>;
  getComponent(id: string): Promise<Stored<Component> | undefined>;
  /**
   * Creates all or nothing, in one transaction. `pathOf(i)` prefixes the
   * field errors of item i (`""` for a single create, `components[i].` for import).
   */
  createComponents(items: NewComponent[], pathOf: (i: number) => string): Promise<Stored<Component>[]>;
  /** Replaces the component whose stored etag is `ifMatch` (412 otherwise). */
  updateComponent(c: Component, ifMatch: string): Promise<Stored<Component>>;
  deleteComponent(id: string): Promise<void>;
  /** Components by type; nodes by state, role and rack (./components/summary.ts). */
  summary(): Promise<InventorySummary>;

  listInterfaces(q: ListQuery): Promise<Page<Interface>>;
  getInterface(id: string): Promise<Stored<Interface> | undefined>;
  createInterface(i: Interface): Promise<Stored<Interface>>;
  updateInterface(i: Interface, ifMatch: string): Promise<Stored<Interface>>;
  deleteInterface(id: string): Promise<void>;

  listGroups(kind: GroupKind, q: ListQuery): Promise<Page<Group>>;
  getGroup(kind: GroupKind, name: string): Promise<Stored<Group> | undefined>;
  createGroup(kind: GroupKind, g: Group): Promise<Stored<Group>>;
  updateGroup(kind: GroupKind, g: Group, ifMatch: string): Promise<Stored<Group>>;
  deleteGroup(kind: GroupKind, name: string): Promise<void>;
  addMembers(kind: GroupKind, name: string, ids: string[]): Promise<Stored<Group>>;
  removeMember(kind: GroupKind, name: string, id: string): Promise<Stored<Group>>;
}

/** Readiness of the database behind the stores. */
export interface SystemStore {
  /** ok when reachable and every bundled migration is applied; else why not. */
  readiness(): Promise<{ ok: boolean; detail: string }>;
}
