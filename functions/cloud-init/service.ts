/**
 * Payload rules that are not storage: defaults, exactly one target, the
 * documents cloud-init must accept, JSON Merge Patch. Handlers call these,
 * then a store.
 */

import { canonicalIp } from "../../shared/http/client-address";
import { applyMergePatch } from "../../shared/http/merge-patch";
import { randomHex } from "../../shared/ids";
import { ApiError, type FieldError } from "../../shared/problem";
import { checkPathId } from "../inventory/service";
import { checkDocument } from "./documents";
import { FACTS_KEY, fieldOf } from "./merge";
import type { DocumentName, Payload, PayloadCreate, PayloadPatch } from "./schemas";
import type { NodeFacts } from "./store";

const TARGETS = ["componentId", "group", "role"] as const;

/** A new payload id: 64 random bits, so that generated ids do not collide at 50,000 payloads. */
export const generatePayloadId = () => `payload-${randomHex(8)}`;

/** Throws a 422 unless `p` names exactly one target and its documents are acceptable. */
export function checkPayload(p: Payload): Payload {
  const given = TARGETS.filter((t) => p[t] !== null);
  if (given.length !== 1) {
    const errors: FieldError[] =
      given.length === 0
        ? [{ field: "componentId", message: "one of componentId, group or role is required" }]
        : given.slice(1).map((t) => ({
            field: t,
            message: `a payload has one target; ${given[0]} is also given`,
          }));
    throw new ApiError("validation", "A payload targets exactly one of a component, a group or a role", {
      errors,
    });
  }
  checkDocument("userData", p.userData);
  checkDocument("vendorData", p.vendorData);
  if (p.metaData && Object.hasOwn(p.metaData, FACTS_KEY))
    throw new ApiError("validation", `metaData.${FACTS_KEY} is reserved`, {
      errors: [
        {
          field: `metaData.${FACTS_KEY}`,
          message: "is reserved for the node's facts, which the server fills in",
        },
      ],
    });
  return p;
}

/** A full payload from a create or replace body; `id` is the path id on replace. */
export function buildPayload(input: PayloadCreate, id?: string): Payload {
  if (id !== undefined) checkPathId(input.id, id);
  return checkPayload({
    id: id ?? input.id ?? generatePayloadId(),
    componentId: input.componentId ?? null,
    group: input.group ?? null,
    role: input.role ?? null,
    userData: input.userData ?? null,
    metaData: input.metaData ?? null,
    vendorData: input.vendorData ?? null,
    bindToAddress: input.bindToAddress ?? false,
  });
}

/** JSON Merge Patch over a payload: absent keeps, null removes (bindToAddress: false). */
export function mergePayload(current: Payload, patch: PayloadPatch): Payload {
  checkPathId(patch.id, current.id);
  const pick = <K extends keyof PayloadPatch & keyof Payload>(k: K, empty: Payload[K]) =>
    (patch[k] === undefined ? current[k] : (patch[k] ?? empty)) as Payload[K];
  return checkPayload({
    id: current.id,
    componentId: pick("componentId", null),
    group: pick("group", null),
    role: pick("role", null),
    userData: pick("userData", null),
    metaData:
      patch.metaData === undefined
        ? current.metaData
        : patch.metaData === null
          ? null
          : (applyMergePatch(current.metaData, patch.metaData) as Record<string, unknown>),
    vendorData: pick("vendorData", null),
    bindToAddress: pick("bindToAddress", false),
  });
}

/**
 * Whether document `name` of `node` may go to `caller` (a canonical address,
 * undefined when unknown): yes unless a payload contributing to it has
 * bindToAddress, in which case the caller must hold one of the node's addresses.
 */
export function bindingAllows(
  name: DocumentName,
  node: NodeFacts,
  layers: readonly Payload[],
  caller: string | undefined,
): boolean {
  const field = fieldOf(name);
  if (!layers.some((p) => p.bindToAddress && p[field] !== null)) return true;
  if (caller === undefined) return false;
  return node.interfaces.some((i) => i.ipAddresses.some((a) => canonicalIp(a.ipAddress) === caller));
}
