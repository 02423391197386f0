/**
 * Change events: CloudEvents 1.0 records of every mutation, written to the
 * outbox in the mutation's own transaction and relayed to NATS JetStream.
 *
 * `type` is `chamicore.<service>.<resource>.<action>`; `subject` is the id of
 * the resource; `data` is the resource envelope after the change (created,
 * updated) or `{id}` (deleted). `position` orders events in commit order and
 * doubles as the version a replica compares: a higher position wins.
 * A deletion that cascades (a component's interfaces, its group memberships)
 * is written as its own events, so replaying events needs no knowledge of
 * the schema's cascades.
 */
export type EventService = "smd" | "bss" | "cloudinit" | "auth" | "power" | "discovery";
export type EventAction = "created" | "updated" | "deleted";

export interface NewEvent {
  service: EventService;
  /**
   * Plural resource name: components, interfaces, groups, partitions, bootparams, payloads, revocations,
   * bmcs, transitions.
   */
  resource: string;
  action: EventAction;
  /** The resource id. */
  subject: string;
  data: unknown;
}

export interface ChangeEvent {
  specversion: "1.0";
  id: string;
  source: string;
  type: string;
  subject: string;
  time: string;
  datacontenttype: "application/json";
  data: unknown;
  /** Commit order, from the outbox. */
  position: number;
  /** W3C traceparent of the publish (CloudEvents distributed-tracing extension), when traced. */
  traceparent?: string;
}

export const EVENT_SOURCE = "chamicore-control";
export const eventType = (e: Pick<NewEvent, "service" | "resource" | "action">) =>
  `chamicore.${e.service}.${e.resource}.${e.action}`;

/** The NATS subject of an event type under a prefix: `chamicore.smd…` → `<prefix>.smd…`. */
export const natsSubject = (type: string, prefix: string) => `${prefix}${type.slice("chamicore".length)}`;
