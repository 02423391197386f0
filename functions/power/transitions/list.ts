import type { RouteHandler } from "@hono/zod-openapi";
import { boolean, type ListSpec, listQuerySchema, oneOf } from "../../../shared/list-query";
import type { AppEnv } from "../../env";
import { defineRoute, json } from "../../route";
import { POWER_OPERATIONS, TRANSITION_STATES, TransitionSchema } from "../schemas";
import { answer, BASE, KIND, TransitionListSchema, tags } from "./answer";

export const transitionListSpec: ListSpec = {
  filters: {
    state: {
      description: `Transition state: ${TRANSITION_STATES.join(", ")}`,
      parse: oneOf(TRANSITION_STATES),
    },
    operation: { description: "Operation", parse: oneOf(POWER_OPERATIONS) },
    dryRun: { description: "true: dry runs only", parse: boolean },
    requestedBy: { description: "Who asked (token subject)" },
  },
  sortable: ["createdAt", "updatedAt", "state", "operation"],
  fields: Object.keys(TransitionSchema.shape).filter((f) => f !== "tasks"),
  defaultSort: "-createdAt",
};

export const listTransitionsRoute = defineRoute("read:power", {
  method: "get",
  path: BASE,
  tags,
  summary: "List power transitions, newest first",
  description:
    "With task counts; the per-node results are in GET /power/v1/transitions/{id}. Filters are equality matches, comma = OR.",
  request: { query: listQuerySchema(transitionListSpec) },
  responses: { 200: json(TransitionListSchema, "A page of transitions") },
});

export const listTransitions: RouteHandler<typeof listTransitionsRoute, AppEnv> = (c) =>
  answer.list(c, KIND, transitionListSpec, (q) => c.var.stores.power.listTransitions(q));
