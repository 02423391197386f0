import type { RouteHandler } from "@hono/zod-openapi";
import { notFound } from "../../../shared/problem";
import type { AppEnv } from "../../env";
import { defineRoute, json, problems } from "../../route";
import { answer, BASE, KIND, TransitionIdParam, TransitionResourceSchema, tags } from "./answer";

export const getTransitionRoute = defineRoute("read:power", {
  method: "get",
  path: `${BASE}/{id}`,
  tags,
  summary: "Get a power transition with its per-node results",
  description:
    "Tasks in request order, each with its state (new, planned, in-progress, succeeded, failed, aborted), message and the last PowerState read; `taskCounts` sums them. The ETag changes with every task's progress.",
  request: { params: TransitionIdParam },
  responses: { 200: json(TransitionResourceSchema, "The transition"), ...problems(404) },
});

export const getTransition: RouteHandler<typeof getTransitionRoute, AppEnv> = async (c) => {
  const { id } = c.req.valid("param");
  const row = await c.var.stores.power.getTransition(id);
  if (!row) throw notFound("transition", id);
  return answer.one(c, KIND, row);
};
