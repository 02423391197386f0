/**
 * The inventory tables' rows as the API's objects, the columns lists and
 * sorts may name, the events each change writes, and the checks and errors
 * every section shares: the helpers of the inventory store's sections.
 */
import { eq } from "drizzle-orm";
import {
  type Component,
  type Group,
  HSM_API_VERSION,
  type Interface,
} from "../../../functions/inventory/schemas";
import type { GroupKind } from "../../../functions/inventory/store";
import { type Stored, toResource } from "../../../shared/envelope";
import type { NewEvent } from "../../../shared/events";
import {
  components,
  ethernetInterfaces,
  groupMembers,
  groups,
  partitionMembers,
  partitions,
} from "../../db/schema";
import type { Q } from "../../db/types";

import { storedOf } from "../pg-util";

export type ComponentRow = typeof components.$inferSelect;
export type InterfaceRow = typeof ethernetInterfaces.$inferSelect;

export const componentColumns = {
  id: components.id,
  type: components.type,
  state: components.state,
  role: components.role,
  subRole: components.subRole,
  nid: components.nid,
  parentId: components.parentId,
  rack: components.rack,
  flag: components.flag,
  arch: components.arch,
  enabled: components.enabled,
  createdAt: components.createdAt,
  updatedAt: components.updatedAt,
};

export const interfaceColumns = {
  id: ethernetInterfaces.id,
  componentId: ethernetInterfaces.componentId,
  macAddress: ethernetInterfaces.macAddress,
  createdAt: ethernetInterfaces.createdAt,
  updatedAt: ethernetInterfaces.updatedAt,
};

export function componentOf(r: ComponentRow): Stored<Component> {
  return storedOf(r, {
    id: r.id,
    type: r.type as Component["type"],
    state: r.state as Component["state"],
    role: r.role as Component["role"],
    subRole: r.subRole as Component["subRole"],
    nid: r.nid,
    parentId: r.parentId,
    rack: r.rack,
    unit: r.unit,
    slot: r.slot,
    subSlot: r.subSlot,
    flag: r.flag as Component["flag"],
    arch: r.arch as Component["arch"],
    netType: r.netType as Component["netType"],
    enabled: r.enabled,
  });
}

export function interfaceOf(r: InterfaceRow): Stored<Interface> {
  return storedOf(r, {
    id: r.id,
    componentId: r.componentId,
    macAddress: r.macAddress,
    ipAddresses: r.ipAddresses,
    description: r.description,
  });
}

export function groupOf(r: typeof groups.$inferSelect, members: string[]): Stored<Group> {
  return {
    id: r.name,
    etag: r.etag,
    createdAt: r.createdAt,
    updatedAt: r.updatedAt,
    spec: { name: r.name, description: r.description, tags: r.tags, members },
  };
}

export const componentValues = (c: Component) => ({
  id: c.id,
  type: c.type,
  state: c.state,
  role: c.role,
  subRole: c.subRole,
  nid: c.nid,
  parentId: c.parentId,
  rack: c.rack,
  unit: c.unit,
  slot: c.slot,
  subSlot: c.subSlot,
  flag: c.flag,
  arch: c.arch,
  netType: c.netType,
  enabled: c.enabled,
});

export const interfaceValues = (i: Interface) => ({
  id: i.id,
  componentId: i.componentId,
  macAddress: i.macAddress,
  ipAddresses: i.ipAddresses,
  description: i.description,
});

/** The tables behind a group kind: groups and partitions share one shape. */
export function groupTables(kind: GroupKind) {
  return kind === "group"
    ? {
        t: groups,
        m: groupMembers,
        mGroup: groupMembers.groupName,
        mComp: groupMembers.componentId,
        label: "group",
        resource: "groups" as const,
      }
    : {
        // Same columns as groups; the cast lets one code path write both.
        t: partitions as unknown as typeof groups,
        m: partitionMembers,
        mGroup: partitionMembers.partitionName,
        mComp: partitionMembers.componentId,
        label: "partition",
        resource: "partitions" as const,
      };
}

/**
 * A group (or partition) with its members, as the API shows it. Here rather
 * than in ./groups because deleting a component (./components) writes the
 * updated groups' events too.
 */
export async function readGroup(q: Q, kind: GroupKind, name: string) {
  const { t, m, mGroup, mComp } = groupTables(kind);
  const [row] = await q.select().from(t).where(eq(t.name, name));
  if (!row) return undefined;
  const members = await q.select({ c: mComp }).from(m).where(eq(mGroup, name)).orderBy(mComp);
  return groupOf(
    row,
    members.map((r) => r.c),
  );
}

export const RACES = {
  unique: "A concurrent write created the same id or MAC; retry to see which",
  foreignKey: "A referenced component was deleted or changed concurrently; retry",
};

const KINDS = {
  components: "Component",
  interfaces: "EthernetInterface",
  groups: "Group",
  partitions: "Partition",
};
type InventoryResource = keyof typeof KINDS;

/** The event of a created or updated resource: its envelope as the API shows it. */
export const changed = <T>(
  resource: InventoryResource,
  action: "created" | "updated",
  row: Stored<T>,
): NewEvent => ({
  service: "smd",
  resource,
  action,
  subject: row.id,
  data: toResource(KINDS[resource], HSM_API_VERSION, row),
});

export const removed = (resource: InventoryResource, id: string): NewEvent => ({
  service: "smd",
  resource,
  action: "deleted",
  subject: id,
  data: { id },
});
