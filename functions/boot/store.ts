/**
 * The boot service's store ports. The boot-script handler depends only on
 * `BootReadStore`, small enough for the edge node to implement over its
 * SQLite replica; the control plane implements both over Postgres
 * (control/stores/boot.ts). A boot script costs two indexed point reads:
 * the node (by MAC, id or nid), then the params that could apply to it.
 */

import type { Role } from "../../shared/enums";
import type { Stored } from "../../shared/envelope";
import type { ListQuery } from "../../shared/list-query";
import type { Page } from "../inventory/store";
import type { BootParams, BootParamsDraft } from "./schemas";

/** What the boot script needs to know about a component. */
export interface BootNode {
  id: string;
  nid: number | null;
  role: Role | null;
  enabled: boolean;
}

/** The params that could apply to one node, at most one per target. */
export interface ParamsCandidates {
  component?: BootParams;
  role?: BootParams;
  default?: BootParams;
}

export interface BootReadStore {
  /** The component that owns the interface with this MAC (normalised aa:bb:cc:dd:ee:ff). */
  nodeByMac(mac: string): Promise<BootNode | undefined>;
  nodeById(id: string): Promise<BootNode | undefined>;
  /** Components with this nid, at most `limit` of them (nids should be unique, but nothing enforces it). */
  nodesByNid(nid: number, limit: number): Promise<BootNode[]>;
  /** The component's own params, its role's (when it has one) and the default, in one read. */
  paramsFor(componentId: string, role: Role | null): Promise<ParamsCandidates>;
}

/**
 * CRUD over boot params. Writes check their target (one per target, the
 * component exists) inside their transaction, throw `ApiError`s naming the
 * field, and write the change event in the same transaction.
 */
export interface BootParamsStore {
  listParams(q: ListQuery): Promise<Page<BootParams>>;
  getParams(id: string): Promise<Stored<BootParams> | undefined>;
  /** Resolves the artifacts `p` names (422 naming the field when one is missing or has no content yet). */
  createParams(p: BootParamsDraft): Promise<Stored<BootParams>>;
  /** Replaces the params whose stored etag is `ifMatch` (412 otherwise, 404 when absent). */
  updateParams(p: BootParamsDraft, ifMatch: string): Promise<Stored<BootParams>>;
  deleteParams(id: string): Promise<void>;
}

export interface BootStore extends BootReadStore, BootParamsStore {}
