import type { RouteHandler } from "@hono/zod-openapi";
import type { AppEnv } from "../../env";
import { defineRoute, json, jsonBody, problems } from "../../route";
import { TransitionCreateSchema } from "../schemas";
import { createTransition } from "../service";
import { answer, BASE, KIND, powerSettingsOf, requesterOf, TransitionResourceSchema, tags } from "./answer";

export const CREATE_DESCRIPTION =
  "One task per node, in the order asked (`location`, then the group's members, without repeats). Each node is powered through its BMC: its parentId, a NodeBMC with an endpoint (/power/v1/bmcs). A node without one gets a `failed` task saying what is missing; the request still succeeds for the others. 422 when a node or the group does not exist, when no node is named, or for more nodes than CHAMICORE_POWER_MAX_NODES (default 20). The transition runs in the background: poll GET /power/v1/transitions/{id} until its state is completed or aborted.";

export const createTransitionRoute = defineRoute("write:power", {
  method: "post",
  path: BASE,
  tags,
  summary: "Start a power transition (PCS): one operation over a set of nodes",
  description: CREATE_DESCRIPTION,
  request: { body: jsonBody(TransitionCreateSchema) },
  responses: {
    201: json(TransitionResourceSchema, "Created, with its tasks; Location and ETag headers set"),
    ...problems(422),
  },
});

export const createTransitionHandler: RouteHandler<typeof createTransitionRoute, AppEnv> = async (c) => {
  const body = c.req.valid("json");
  const row = await createTransition(
    c.var.stores,
    powerSettingsOf(c.var.deps),
    {
      operation: body.operation,
      taskDeadlineMinutes: body.taskDeadlineMinutes,
      xnames: (body.location ?? []).map((l) => l.xname),
      group: body.group,
      dryRun: body.dryRun,
      xnamesField: "location",
    },
    requesterOf(c),
  );
  return answer.one(c, KIND, row, 201);
};
