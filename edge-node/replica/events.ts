/**
 * What the replica accepts from the change stream: the seven replicated
 * resources and their actions, and the error it throws for anything else.
 *
 * An event of an unknown type is refused, not skipped: a replica that
 * silently drops a change it does not understand stops being a replica
 * without anyone knowing. The throw rolls the whole batch back (rows and
 * position), so the caller can stop applying, keep serving what it has, and
 * say why — an edge older than its control plane needs an upgrade, which a
 * resync alone does not give it.
 */
import type { SnapshotResource } from "../../functions/events/store";
import type { Resource } from "../../shared/envelope";
import type { ChangeEvent, EventAction, EventService } from "../../shared/events";

/** The service each replicated resource's events come from. */
export const REPLICATED = {
  components: "smd",
  interfaces: "smd",
  groups: "smd",
  partitions: "smd",
  bootparams: "bss",
  payloads: "cloudinit",
  revocations: "auth",
} as const satisfies Record<SnapshotResource, EventService>;

/**
 * Services whose events the edge knowingly passes over: control-plane work
 * (power transitions and BMC endpoints) that nothing an edge serves depends
 * on. Their events still move the replica's position. A service in neither
 * list is refused like any unknown type.
 */
export const PASSED_OVER: readonly EventService[] = ["power", "discovery"];

export type ReplicatedResource = keyof typeof REPLICATED;
export const REPLICATED_RESOURCES = Object.keys(REPLICATED) as ReplicatedResource[];

const ACTIONS: readonly string[] = ["created", "updated", "deleted"] satisfies EventAction[];

/**
 * Why an event or a snapshot could not be applied. `unknown-type`: a type
 * this replica does not know; `malformed`: a known type whose fields are
 * not what the control plane writes. Nothing of the batch was applied.
 */
export class ReplicaEventError extends Error {
  override readonly name = "ReplicaEventError";
  constructor(
    readonly reason: "unknown-type" | "malformed",
    message: string,
    /** The offending event's position (undefined for a snapshot item). */
    readonly position?: number,
  ) {
    super(message);
  }
}

/**
 * `chamicore.<service>.<resource>.<action>` → resource and action, undefined
 * for a service the edge passes over (PASSED_OVER), or a ReplicaEventError.
 */
export function parseEventType(
  e: Pick<ChangeEvent, "type" | "position">,
): { resource: ReplicatedResource; action: EventAction } | undefined {
  const [prefix, service, resource, action, ...rest] = String(e.type).split(".");
  if (prefix === "chamicore" && PASSED_OVER.includes(service as EventService)) return undefined;
  const known =
    prefix === "chamicore" &&
    rest.length === 0 &&
    resource !== undefined &&
    Object.hasOwn(REPLICATED, resource) &&
    REPLICATED[resource as ReplicatedResource] === service &&
    action !== undefined &&
    ACTIONS.includes(action);
  if (!known)
    throw new ReplicaEventError(
      "unknown-type",
      `event ${e.position} has type '${e.type}', which this edge node does not replicate`,
      e.position,
    );
  return { resource: resource as ReplicatedResource, action: action as EventAction };
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** `v` as a resource envelope (`metadata.id` and an object `spec`), or a ReplicaEventError naming `where`. */
export function envelopeOf(v: unknown, where: string, position?: number): Resource<Record<string, unknown>> {
  if (
    !isObject(v) ||
    !isObject(v.metadata) ||
    typeof v.metadata.id !== "string" ||
    v.metadata.id === "" ||
    !isObject(v.spec)
  )
    throw new ReplicaEventError("malformed", `${where} is not a resource envelope`, position);
  return v as unknown as Resource<Record<string, unknown>>;
}
