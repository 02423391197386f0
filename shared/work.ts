/**
 * Work for edge agents: what the control plane's dispatcher puts on NATS
 * and an edge of the site takes (control/node/work-dispatcher.ts,
 * edge-node/agent/). One JetStream stream with work-queue retention holds
 * it: a message is removed once an edge acknowledges it, and the edges of
 * a site share one durable consumer, so exactly one of them runs it.
 *
 * A message names the work only (transition and task ids, scan id); the
 * edge reads what it needs, credentials included, from the control API at
 * the moment it starts, so nothing secret travels over NATS and a
 * re-delivered message finds the work as the database has it now.
 */

/** Power tasks of one transition, claimed for the site. */
export interface PowerWork {
  kind: "power";
  transitionId: string;
  taskIds: string[];
  /** W3C traceparent of the hand-off, when the request that made the work was traced. */
  traceparent?: string;
}

/** A discovery scan of the site's targets. */
export interface DiscoveryWork {
  kind: "discovery";
  scanId: string;
  /** W3C traceparent of the hand-off, when the request that started the scan was traced. */
  traceparent?: string;
}

export type WorkMessage = PowerWork | DiscoveryWork;

/** What a span of handing on or running power work says it is. */
export const powerWorkAttributes = (transitionId: string, tasks: number) => ({
  "chamicore.work.kind": "power",
  "chamicore.power.transition_id": transitionId,
  "chamicore.power.tasks": tasks,
});

/** What a span of handing on or running a scan says it is. */
export const scanWorkAttributes = (scanId: string) => ({
  "chamicore.work.kind": "discovery",
  "chamicore.discovery.scan_id": scanId,
});

/** What a span of handing on or running `work` says it is (no secrets: the message holds none). */
export const workAttributes = (work: WorkMessage): Record<string, string | number> =>
  work.kind === "power"
    ? powerWorkAttributes(work.transitionId, work.taskIds.length)
    : scanWorkAttributes(work.scanId);

/** The work stream beside the event stream (`CHAMICORE_NATS_STREAM`): `<stream>_WORK`. */
export const workStreamName = (eventStream: string) => `${eventStream}_WORK`;

/**
 * `<prefix>_work.<site>`: a root of its own, because JetStream refuses
 * streams whose subjects overlap and the event stream holds `<prefix>.>`.
 * Sites are letters, digits, '.', '_' and '-', so a site is a valid (if
 * dotted, multi-token) subject tail.
 */
export const workSubjectRoot = (subjectPrefix: string) => `${subjectPrefix}_work`;
export const workSubject = (subjectPrefix: string, site: string) =>
  `${workSubjectRoot(subjectPrefix)}.${site}`;

/** The durable consumer the edges of `site` share (durable names hold no '.'). */
export const workConsumerName = (site: string) => `work-${site.replace(/\./g, "_")}`;
