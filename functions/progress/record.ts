/**
 * `POST /boot/v1/progress`: an edge's batch of the stages its nodes reached.
 * Each event's time is re-based on the control plane's clock (its age when
 * the batch was sent, before the batch's arrival), so the status compares
 * times from edges whose clocks disagree.
 */
import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../env";
import { defineRoute, json, jsonBody } from "../route";
import { ProgressBatchSchema, ProgressReceiptSchema } from "./schemas";
import type { SeenStage } from "./store";

export const PROGRESS_PATH = "/boot/v1/progress";

export const recordProgressRoute = defineRoute("write:boot-progress", {
  method: "post",
  path: PROGRESS_PATH,
  tags: ["boot"],
  summary: "Record the boot stages an edge saw",
  description:
    "Sent by edges every second or so (and after an uplink outage, what they kept). Per node only the latest stage counts, and a node only moves forward: an event no later (by time, then stage order) than the recorded one changes nothing, so resending a batch is harmless. Events for components not in the inventory are ignored. See docs/boot-progress.md.",
  request: { body: jsonBody(ProgressBatchSchema) },
  responses: { 200: json(ProgressReceiptSchema, "How many events moved a node") },
});

/** The batch's events with their times on this clock (`now`), never in the future. */
export function rebased(batch: { sentAt: string; events: { at: string }[] }, now: Date) {
  const skew = +now - Date.parse(batch.sentAt);
  return batch.events.map((e) => new Date(Math.min(+now, Date.parse(e.at) + skew)));
}

export const recordProgress: RouteHandler<typeof recordProgressRoute, AppEnv> = async (c) => {
  const batch = c.req.valid("json");
  const times = rebased(batch, new Date());
  const events: SeenStage[] = batch.events.map((e, i) => ({
    node: e.node,
    stage: e.stage,
    at: times[i]!,
    edgeAt: new Date(e.at),
    retry: e.retry ?? null,
    address: e.address ?? null,
  }));
  const applied = await c.var.stores.progress.record(batch.edge, events);
  if (batch.dropped)
    c.var.deps.logger.warn("an edge dropped boot progress (its buffer was full)", {
      edge: batch.edge,
      dropped: batch.dropped,
    });
  return c.json({ accepted: events.length, applied }, 200);
};
