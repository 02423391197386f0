/**
 * Boot-parameter rules that are not storage: defaults, exactly one target,
 * JSON Merge Patch. Handlers call these, then the store.
 */
import { generateId } from "../../shared/ids";
import { ApiError } from "../../shared/problem";
import type { BootParams, BootParamsCreate, BootParamsPatch, BootParamsReplace } from "./schemas";

const TARGET_FIELDS = ["componentId", "role", "isDefault"] as const;
const TARGET_RULE = "give exactly one of componentId, role or isDefault: true";

/** The target fields that are set (isDefault counts only when true). */
const targetsOf = (p: Pick<BootParams, "componentId" | "role" | "isDefault">) =>
  TARGET_FIELDS.filter((f) => (f === "isDefault" ? p.isDefault === true : p[f] !== null));

/** Throws a 422 naming the target fields unless exactly one target is set. */
export function checkOneTarget(p: BootParams): BootParams {
  const set = targetsOf(p);
  if (set.length === 1) return p;
  const fields = set.length === 0 ? [...TARGET_FIELDS] : set;
  throw new ApiError(
    "validation",
    set.length === 0
      ? "Boot parameters need a target: componentId, role or isDefault: true"
      : `Boot parameters have exactly one target; this request sets ${set.join(" and ")}`,
    { errors: fields.map((field) => ({ field, message: TARGET_RULE })) },
  );
}

/** Full params from a create or replace body; without an id the server generates `bp-<8 hex>`. */
export function buildBootParams(input: BootParamsCreate | BootParamsReplace, id?: string): BootParams {
  return checkOneTarget({
    id: id ?? input.id ?? generateId("bp"),
    componentId: input.componentId ?? null,
    role: input.role ?? null,
    isDefault: input.isDefault ?? false,
    kernelUri: input.kernelUri,
    initrdUri: input.initrdUri ?? "",
    cmdline: input.cmdline ?? "",
  });
}

/** RFC 7396 over boot params: absent keeps, null clears a target or resets a text to empty. */
export function mergeBootParams(current: BootParams, patch: BootParamsPatch): BootParams {
  checkPathId(patch.id, current.id);
  if (patch.kernelUri === null)
    throw new ApiError("validation", "Boot parameters need a kernel", {
      errors: [{ field: "kernelUri", message: "cannot be null" }],
    });
  const keep = <K extends keyof BootParams>(k: K, cleared: BootParams[K]): BootParams[K] => {
    const v = patch[k as keyof BootParamsPatch] as BootParams[K] | null | undefined;
    return v === undefined ? current[k] : v === null ? cleared : v;
  };
  return checkOneTarget({
    id: current.id,
    componentId: keep("componentId", null),
    role: keep("role", null),
    isDefault: keep("isDefault", false),
    kernelUri: keep("kernelUri", current.kernelUri),
    initrdUri: keep("initrdUri", ""),
    cmdline: keep("cmdline", ""),
  });
}

export function checkPathId(bodyId: string | undefined, pathId: string) {
  if (bodyId !== undefined && bodyId !== pathId)
    throw new ApiError("validation", "The id in the body differs from the one in the path", {
      errors: [{ field: "id", message: `must be '${pathId}' (the id in the path) or absent` }],
    });
}
