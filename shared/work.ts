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
}

/** A discovery scan of the site's targets. */
export interface DiscoveryWork {
  kind: "discovery";
  scanId: string;
}

export type WorkMessage = PowerWork | DiscoveryWork;

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
