import type { RouteHandler } from "@hono/zod-openapi";
import { toResource } from "../../../shared/envelope";
import type { AppEnv } from "../../env";
import { defineRoute, json, problems } from "../../route";
import { POWER_API_VERSION } from "../schemas";
import { BASE, KIND, powerSettingsOf, TransitionIdParam, TransitionResourceSchema, tags } from "./answer";

export const abortTransitionRoute = defineRoute("write:power", {
  method: "delete",
  path: `${BASE}/{id}`,
  tags,
  summary: "Abort a power transition",
  description:
    "Tasks not started end `aborted` at once. With tasks running, the transition is `abort-signaled` until their agent has stopped them, then `aborted`; a Reset already sent is not undone (the task says what was done). Asking again while abort-signaled is harmless. 409 when the transition is already completed or aborted.",
  request: { params: TransitionIdParam },
  responses: {
    202: json(TransitionResourceSchema, "Abort accepted: the transition as it is now"),
    ...problems(404, 409),
  },
});

export const abortTransition: RouteHandler<typeof abortTransitionRoute, AppEnv> = async (c) => {
  const { id } = c.req.valid("param");
  const row = await c.var.stores.power.abortTransition(id);
  if (row.spec.state === "abort-signaled") powerSettingsOf(c.var.deps).wake?.();
  return c.json(toResource(KIND, POWER_API_VERSION, row) as never, 202);
};
