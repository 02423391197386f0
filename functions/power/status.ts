/**
 * `GET /power/v1/power-status`: the last known power state of nodes, from
 * the newest of what a power task last read from the node's BMC and the
 * inventory state (On, Ready → on; Off → off).
 */
import { type RouteHandler, z } from "@hono/zod-openapi";
import { ListMetadataSchema } from "../../shared/envelope";
import { ID_PATTERN, ID_RULE } from "../../shared/ids";
import { type ListSpec, listQuerySchema, oneOf, parseListQuery } from "../../shared/list-query";
import { ApiError } from "../../shared/problem";
import type { AppEnv } from "../env";
import { defineRoute, json } from "../route";
import { POWER_API_VERSION, POWER_STATES, POWER_STATUS_KIND, PowerStatusSchema } from "./schemas";
import { tags } from "./transitions/answer";

const idFilter = (raw: string) => {
  if (!ID_PATTERN.test(raw)) throw new Error(`must be ${ID_RULE}`);
  return raw;
};

export const powerStatusSpec: ListSpec = {
  filters: {
    xname: { description: "Node ids (any component type when given; only Nodes otherwise)", parse: idFilter },
    group: { description: "Members of this inventory group", parse: idFilter },
    powerState: { description: `${POWER_STATES.join(", ")}`, parse: oneOf(POWER_STATES) },
  },
  sortable: ["xname"],
  fields: Object.keys(PowerStatusSchema.shape),
  defaultSort: "xname",
};

const PowerStatusListSchema = z
  .object({
    kind: z.literal(`${POWER_STATUS_KIND}List`),
    apiVersion: z.string(),
    metadata: ListMetadataSchema,
    items: z.array(PowerStatusSchema.partial()),
  })
  .openapi("PowerStatusList");

export const powerStatusRoute = defineRoute("read:power", {
  method: "get",
  path: "/power/v1/power-status",
  tags,
  summary: "Last known power state of nodes",
  description:
    "Per node: `powerState` on, off or undefined, from the newer of the PowerState the last power task read from its BMC (`source: task`) and its inventory state (`source: inventory`: On and Ready are on, Off is off). Nothing is asked of the BMCs: run a transition to refresh. 422 naming xnames or a group that do not exist. Paged with limit/offset, ordered by xname.",
  request: { query: listQuerySchema(powerStatusSpec) },
  responses: { 200: json(PowerStatusListSchema, "Power status per node") },
});

export const powerStatus: RouteHandler<typeof powerStatusRoute, AppEnv> = async (c) => {
  const q = parseListQuery(new URL(c.req.url).searchParams, powerStatusSpec);
  const xnames = q.filters.xname as string[] | undefined;
  const groups = q.filters.group as string[] | undefined;
  if (groups && groups.length > 1)
    throw new ApiError("bad-request", "Give one group", {
      errors: [{ field: "group", message: "one group only" }],
    });
  const group = groups?.[0];
  const stores = c.var.stores;
  if (group !== undefined && !(await stores.inventory.getGroup("group", group)))
    throw new ApiError("validation", `group '${group}' does not exist`, {
      errors: [{ field: "group", message: `group '${group}' does not exist in the inventory` }],
    });
  if (xnames) {
    const found = new Set((await stores.power.targets(xnames)).map((t) => t.id));
    const unknown = xnames.filter((x) => !found.has(x));
    if (unknown.length > 0)
      throw new ApiError("validation", `Not in the inventory: ${unknown.slice(0, 20).join(", ")}`, {
        errors: unknown.slice(0, 100).map((x) => ({ field: "xname", message: `'${x}' does not exist` })),
      });
  }
  const page = await stores.power.powerStatus({
    ...(xnames ? { xnames } : {}),
    ...(group !== undefined ? { group } : {}),
    ...(q.filters.powerState ? { powerStates: q.filters.powerState as string[] } : {}),
    desc: q.sort.desc,
    limit: q.limit,
    offset: q.offset,
  });
  const fields = q.fields;
  const items = fields
    ? page.rows.map((r) => Object.fromEntries(fields.map((f) => [f, r[f as keyof typeof r]])))
    : page.rows;
  return c.json(
    {
      kind: `${POWER_STATUS_KIND}List` as const,
      apiVersion: POWER_API_VERSION,
      metadata: { total: page.total, limit: q.limit, offset: q.offset },
      items,
    } as never,
    200,
  );
};
