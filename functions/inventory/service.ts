/**
 * Inventory rules that are not storage: defaults, what an xname implies,
 * JSON Merge Patch, interface ids. Handlers call these, then a store.
 */
import { generateId, parseXname } from "../../shared/ids";
import { ApiError, type FieldError } from "../../shared/problem";
import type {
  Component,
  ComponentCreate,
  ComponentPatch,
  ComponentReplace,
  Group,
  GroupCreate,
  GroupPatch,
  Interface,
  InterfaceCreate,
  InterfacePatch,
} from "./schemas";

type Writable = Omit<ComponentReplace, "id">;

/**
 * A full component from client input. An xname id implies the type and
 * (unless given) the rack; without an id the server generates one.
 */
export function buildComponent(input: ComponentCreate | ComponentReplace, pathPrefix = ""): Component {
  const x = input.id ? parseXname(input.id) : undefined;
  const type = input.type ?? (x?.type as Component["type"] | undefined);
  if (!type)
    throw new ApiError("validation", "The component needs a type", {
      errors: [
        { field: `${pathPrefix}type`, message: "is required unless id is an xname (which implies the type)" },
      ],
    });
  const w: Writable = input;
  return {
    id: input.id ?? generateId(type),
    type,
    state: w.state ?? "Empty",
    role: w.role ?? null,
    subRole: w.subRole ?? null,
    nid: w.nid ?? null,
    parentId: w.parentId ?? null,
    rack: w.rack ?? x?.cabinet ?? null,
    unit: w.unit ?? null,
    slot: w.slot ?? null,
    subSlot: w.subSlot ?? null,
    flag: w.flag ?? "OK",
    arch: w.arch ?? null,
    netType: w.netType ?? null,
    enabled: w.enabled ?? true,
  };
}

/** RFC 7396 over a component: absent keeps, null resets to the default. */
export function mergeComponent(current: Component, patch: ComponentPatch): Component {
  if (patch.id !== undefined && patch.id !== current.id)
    throw new ApiError("validation", "A component's id cannot change", {
      errors: [{ field: "id", message: `must be '${current.id}' (the id in the path) or absent` }],
    });
  if (patch.type === null)
    throw new ApiError("validation", "A component's type cannot be removed", {
      errors: [{ field: "type", message: "cannot be null" }],
    });
  const merged: Component = { ...current };
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined || k === "id") continue;
    (merged as Record<string, unknown>)[k] = v;
  }
  // null on a field with a default resets it to that default
  if (patch.state === null) merged.state = "Empty";
  if (patch.flag === null) merged.flag = "OK";
  if (patch.enabled === null) merged.enabled = true;
  return merged;
}

export function checkPathId(bodyId: string | undefined, pathId: string, field = "id") {
  if (bodyId !== undefined && bodyId !== pathId)
    throw new ApiError("validation", `The ${field} in the body differs from the one in the path`, {
      errors: [{ field, message: `must be '${pathId}' (the value in the path) or absent` }],
    });
}

/** The default interface id is the MAC without separators, as in OpenCHAMI SMD. */
export const defaultInterfaceId = (mac: string) => mac.replaceAll(":", "");

export function buildInterface(componentId: string, input: Omit<InterfaceCreate, "componentId">): Interface {
  return {
    id: input.id ?? defaultInterfaceId(input.macAddress),
    componentId,
    macAddress: input.macAddress,
    ipAddresses: (input.ipAddresses ?? []).map((a) => ({
      ipAddress: a.ipAddress,
      network: a.network ?? null,
    })),
    description: input.description ?? "",
  };
}

export function mergeInterface(current: Interface, patch: InterfacePatch): Interface {
  checkPathId(patch.id, current.id);
  return {
    id: current.id,
    componentId: patch.componentId ?? current.componentId,
    macAddress: patch.macAddress ?? current.macAddress,
    ipAddresses:
      patch.ipAddresses === null
        ? []
        : patch.ipAddresses
          ? patch.ipAddresses.map((a) => ({ ipAddress: a.ipAddress, network: a.network ?? null }))
          : current.ipAddresses,
    description: patch.description === null ? "" : (patch.description ?? current.description),
  };
}

export function buildGroup(input: GroupCreate): Group {
  return {
    name: input.name,
    description: input.description ?? "",
    tags: input.tags ?? [],
    members: dedupe(input.members ?? []),
  };
}

export function mergeGroup(current: Group, patch: GroupPatch): Group {
  checkPathId(patch.name, current.name, "name");
  return {
    name: current.name,
    description: patch.description === null ? "" : (patch.description ?? current.description),
    tags: patch.tags === null ? [] : (patch.tags ?? current.tags),
    members: patch.members === null ? [] : dedupe(patch.members ?? current.members),
  };
}

const dedupe = (ids: string[]) => [...new Set(ids)];

/** Components of a bulk import or single create, with their interfaces; errors name `pathOf(i)` fields. */
export function buildNewComponents(inputs: ComponentCreate[], pathOf: (i: number) => string) {
  const errors: FieldError[] = [];
  const items = inputs.flatMap((input, i) => {
    try {
      const component = buildComponent(input, pathOf(i));
      const interfaces = (input.interfaces ?? []).map((f) => buildInterface(component.id, f));
      return [{ component, interfaces }];
    } catch (e) {
      if (e instanceof ApiError && e.errors) errors.push(...e.errors);
      else throw e;
      return [];
    }
  });
  if (errors.length)
    throw new ApiError("validation", "Some components are not valid; nothing was written", { errors });
  return items;
}
