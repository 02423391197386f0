/**
 * Boot-parameter rules that are not storage: defaults, exactly one target,
 * JSON Merge Patch. Handlers call these, then the store.
 */
import { generateId } from "../../shared/ids";
import { ApiError } from "../../shared/problem";
import type {
  BootParams,
  BootParamsCreate,
  BootParamsDraft,
  BootParamsPatch,
  BootParamsReplace,
} from "./schemas";

const TARGET_FIELDS = ["componentId", "role", "isDefault"] as const;
const TARGET_RULE = "give exactly one of componentId, role or isDefault: true";

/** The target fields that are set (isDefault counts only when true). */
const targetsOf = (p: Pick<BootParams, "componentId" | "role" | "isDefault">) =>
  TARGET_FIELDS.filter((f) => (f === "isDefault" ? p.isDefault === true : p[f] !== null));

/**
 * Throws a 422 naming the fields unless exactly one target is set, the kernel
 * is given one way (kernelUri or a `kernel` artifact) and the initrd at most one way.
 */
export function checkOneTarget(p: BootParamsDraft): BootParamsDraft {
  checkImages(p);
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

function checkImages(p: BootParamsDraft) {
  if (p.kernelUri !== "" && p.kernel !== null)
    throw new ApiError("validation", "Give the kernel one way: kernelUri or kernel (an artifact), not both", {
      errors: ["kernelUri", "kernel"].map((field) => ({
        field,
        message: "give exactly one of kernelUri and kernel",
      })),
    });
  if (p.kernelUri === "" && p.kernel === null)
    throw new ApiError(
      "validation",
      "Boot parameters need a kernel: kernelUri, or kernel: {artifact: <name>}",
      {
        errors: ["kernelUri", "kernel"].map((field) => ({
          field,
          message: "give exactly one of kernelUri and kernel",
        })),
      },
    );
  if (p.initrdUri !== "" && p.initrd !== null)
    throw new ApiError("validation", "Give the initrd one way: initrdUri or initrd (an artifact), not both", {
      errors: ["initrdUri", "initrd"].map((field) => ({
        field,
        message: "give at most one of initrdUri and initrd",
      })),
    });
}

/** Full params from a create or replace body; without an id the server generates `bp-<8 hex>`. */
export function buildBootParams(input: BootParamsCreate | BootParamsReplace, id?: string): BootParamsDraft {
  return checkOneTarget({
    id: id ?? input.id ?? generateId("bp"),
    componentId: input.componentId ?? null,
    role: input.role ?? null,
    isDefault: input.isDefault ?? false,
    kernelUri: input.kernelUri ?? "",
    initrdUri: input.initrdUri ?? "",
    cmdline: input.cmdline ?? "",
    kernel: input.kernel ?? null,
    initrd: input.initrd ?? null,
  });
}

/**
 * RFC 7396 over boot params: absent keeps, null clears a target or resets a
 * text to empty. Setting the kernel (or initrd) one way clears the other way.
 */
export function mergeBootParams(current: BootParams, patch: BootParamsPatch): BootParamsDraft {
  checkPathId(patch.id, current.id);
  const keep = <K extends keyof BootParamsDraft>(k: K, cleared: BootParamsDraft[K]): BootParamsDraft[K] => {
    const v = patch[k as keyof BootParamsPatch] as BootParamsDraft[K] | null | undefined;
    return v === undefined ? current[k] : v === null ? cleared : v;
  };
  const newKernelUri = patch.kernelUri !== undefined && patch.kernelUri !== null && patch.kernelUri !== "";
  const newKernel = patch.kernel !== undefined && patch.kernel !== null;
  const newInitrdUri = patch.initrdUri !== undefined && patch.initrdUri !== null && patch.initrdUri !== "";
  const newInitrd = patch.initrd !== undefined && patch.initrd !== null;
  return checkOneTarget({
    id: current.id,
    componentId: keep("componentId", null),
    role: keep("role", null),
    isDefault: keep("isDefault", false),
    kernelUri: newKernel && !newKernelUri ? "" : keep("kernelUri", ""),
    initrdUri: newInitrd && !newInitrdUri ? "" : keep("initrdUri", ""),
    cmdline: keep("cmdline", ""),
    kernel: newKernelUri && !newKernel ? null : keep("kernel", null),
    initrd: newInitrdUri && !newInitrd ? null : keep("initrd", null),
  });
}

export function checkPathId(bodyId: string | undefined, pathId: string) {
  if (bodyId !== undefined && bodyId !== pathId)
    throw new ApiError("validation", "The id in the body differs from the one in the path", {
      errors: [{ field: "id", message: `must be '${pathId}' (the id in the path) or absent` }],
    });
}
