/**
 * The change feed for edge nodes (`/events/v1`): a snapshot of the boot read
 * model with the outbox position it reflects, and the events after a
 * position, paged. Edges follow NATS JetStream when they can and this feed
 * when they cannot; both carry the same CloudEvents.
 */
import { type OpenAPIHono, type RouteHandler, z } from "@hono/zod-openapi";
import { ApiError } from "../../shared/problem";
import type { AppEnv } from "../env";
import { defineRoute, json, problems } from "../route";

export const EVENTS_API_VERSION = "events/v1";
const tags = ["events"];
const MAX_PAGE = 1000;

const ResourceAny = z.object({
  kind: z.string(),
  apiVersion: z.string(),
  metadata: z.object({ id: z.string(), etag: z.string(), createdAt: z.string(), updatedAt: z.string() }),
  spec: z.unknown(),
});

const SnapshotSchema = z
  .object({
    kind: z.literal("Snapshot"),
    apiVersion: z.string(),
    position: z.number().int().openapi({ description: "Outbox position reflected: follow events after it" }),
    source: z.string().openapi({
      description: "This control plane's id: an edge follows one source (an air-gap bundle names it too)",
    }),
    components: z.array(ResourceAny),
    interfaces: z.array(ResourceAny),
    groups: z.array(ResourceAny),
    partitions: z.array(ResourceAny),
    bootparams: z.array(ResourceAny),
    payloads: z.array(ResourceAny),
    revocations: z.array(ResourceAny).openapi({ description: "Active revocations" }),
  })
  .openapi("Snapshot");

export const ChangeEventSchema = z
  .object({
    specversion: z.literal("1.0"),
    id: z.string(),
    source: z.string(),
    type: z.string().openapi({ example: "chamicore.smd.components.updated" }),
    subject: z.string().openapi({ description: "Resource id" }),
    time: z.string(),
    datacontenttype: z.literal("application/json"),
    data: z
      .unknown()
      .openapi({ description: "The resource envelope after the change, or {id} when deleted" }),
    position: z.number().int(),
    traceparent: z.string().optional().openapi({
      description:
        "W3C traceparent of the request that made the change, when it was traced (CloudEvents distributed-tracing extension)",
    }),
  })
  .openapi("ChangeEvent");

const ChangeListSchema = z
  .object({
    kind: z.literal("ChangeList"),
    apiVersion: z.string(),
    metadata: z.object({
      after: z.number().int(),
      next: z.number().int().openapi({ description: "Ask for `after=next` to continue" }),
      head: z.number().int().openapi({ description: "Latest position; caught up when next == head" }),
      source: z.string().openapi({ description: "This control plane's id, as in the snapshot" }),
    }),
    items: z.array(ChangeEventSchema),
  })
  .openapi("ChangeList");

const snapshot = defineRoute("read:feed", {
  method: "get",
  path: "/events/v1/snapshot",
  tags,
  summary: "Snapshot of the boot read model, with the outbox position it reflects",
  description:
    "Components, interfaces, groups, partitions, boot parameters, cloud-init payloads and active revocations, read in one consistent transaction. Apply it, then follow events after `position` (JetStream or /events/v1/changes).",
  responses: { 200: json(SnapshotSchema, "The snapshot") },
});
const snapshotHandler: RouteHandler<typeof snapshot, AppEnv> = async (c) => {
  const { feed } = c.var.stores;
  const [source, s] = await Promise.all([feed.source(), feed.snapshot()]);
  return c.json({ kind: "Snapshot" as const, apiVersion: EVENTS_API_VERSION, source, ...s }, 200);
};

const Position = z.coerce.number().int().min(0);
const changes = defineRoute("read:feed", {
  method: "get",
  path: "/events/v1/changes",
  tags,
  summary: "Events after a position, in commit order",
  description:
    "410 when events after `after` have been pruned (older than CHAMICORE_OUTBOX_RETENTION_DAYS): take a new snapshot. `limit=0` answers only `metadata.head`: the cheap probe an edge following the stream uses to notice that the stream has gone quiet while the control plane moves on.",
  request: {
    query: z.strictObject({
      after: Position.openapi({ description: "Last position applied (a snapshot's `position`)" }),
      limit: z.coerce
        .number()
        .int()
        .min(0)
        .max(MAX_PAGE)
        .default(MAX_PAGE)
        .optional()
        .openapi({ description: "At most this many events; 0 answers the head alone" }),
    }),
  },
  responses: { 200: json(ChangeListSchema, "A page of events"), ...problems(410) },
});
const changesHandler: RouteHandler<typeof changes, AppEnv> = async (c) => {
  const { after, limit } = c.req.valid("query");
  const { feed } = c.var.stores;
  const [source, page] = await Promise.all([feed.source(), feed.changes(after, limit ?? MAX_PAGE)]);
  // Events after `after` must all still be kept: the first one kept is at most after + 1.
  if (after + 1 < page.tail && after < page.head)
    throw new ApiError(
      "gone",
      `events after position ${after} have been pruned (oldest kept: ${page.tail}); take a new snapshot`,
    );
  const next = page.events.at(-1)?.position ?? after;
  return c.json(
    {
      kind: "ChangeList" as const,
      apiVersion: EVENTS_API_VERSION,
      metadata: { after, next, head: page.head, source },
      items: page.events,
    },
    200,
  );
};

export function registerEvents(app: OpenAPIHono<AppEnv>) {
  app.openapi(snapshot, snapshotHandler);
  app.openapi(changes, changesHandler);
}
