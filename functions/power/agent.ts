/**
 * The power agent endpoints (`/power/v1/agent/*`): how an edge agent runs
 * the tasks the dispatcher handed its site over NATS (shared/work.ts).
 *
 * - `POST /agent/jobs/{transitionId}` starts (or, after a re-delivery,
 *   restarts) claimed tasks: it renews their deadline and answers the ones
 *   still in progress with their BMC endpoints and the credentials to use.
 *   Credentials are unsealed only here, only for tasks being run.
 * - `POST /agent/progress` records what running tasks are doing and
 *   answers which of the agent's transitions were aborted meanwhile.
 * - `POST /agent/results` records final results (once: a repeat changes
 *   nothing) and, on a verified success, the node's inventory state.
 *
 * `admin:power-agent` (the `edge` role has it), because the job answer
 * holds BMC passwords; it allows nothing else of the power service.
 */
import { type OpenAPIHono, type RouteHandler, z } from "@hono/zod-openapi";
import { notFound } from "../../shared/problem";
import { unsealCredential } from "../auth/secrets";
import type { AppEnv } from "../env";
import { defineRoute, json, jsonBody, problems } from "../route";
import { countTaskResults } from "./metrics";
import { budgetFromNow } from "./resolve";
import { BmcEndpointSchema, OperationSchema } from "./schemas";
import { recordPowerState } from "./service";
import type { TaskResult } from "./store";

const BASE = "/power/v1/agent";
const tags = ["power agent"];
/** Transition and task ids are Postgres uuids: anything else names nothing, and would fail the query. */
const Uuid = z
  .string()
  .regex(/^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/, "must be a UUID")
  .openapi({ format: "uuid", example: "6f1c2b4e-8d1a-4f3b-9c2d-1e5f7a9b0c3d" });

export const AgentJobRequestSchema = z
  .strictObject({ taskIds: z.array(Uuid).max(100_000) })
  .openapi("PowerAgentJobRequest");

export const AgentJobSchema = z
  .object({
    transitionId: z.string(),
    operation: OperationSchema,
    deadlineMs: z.number().openapi({ description: "How long each Reset may take to show in PowerState." }),
    abortSignaled: z.boolean(),
    tasks: z.array(
      z.object({
        id: z.string(),
        xname: z.string(),
        bmcId: z.string().nullable(),
        bmc: BmcEndpointSchema.nullable(),
      }),
    ),
    credentials: z
      .record(z.string(), z.object({ username: z.string(), password: z.string() }))
      .openapi({ description: "By credential id, for the endpoints of these tasks that have one." }),
  })
  .openapi("PowerAgentJob");
export type AgentJob = z.infer<typeof AgentJobSchema>;

const UpdateSchema = z.object({
  taskId: Uuid,
  message: z.string().max(4096),
  powerState: z.string().max(64).optional(),
});

export const AgentProgressSchema = z
  .strictObject({
    updates: z.array(UpdateSchema).max(100_000),
    transitionIds: z
      .array(Uuid)
      .max(10_000)
      .openapi({ description: "The transitions the agent runs: the answer says which were aborted." }),
  })
  .openapi("PowerAgentProgress");

export const AgentResultsSchema = z
  .strictObject({
    transitionId: Uuid,
    results: z.array(UpdateSchema.extend({ state: z.enum(["succeeded", "failed", "aborted"]) })).max(100_000),
  })
  .openapi("PowerAgentResults");

const jobRoute = defineRoute("admin:power-agent", {
  method: "post",
  path: `${BASE}/jobs/{transitionId}`,
  tags,
  summary: "Start claimed tasks (edge agents)",
  description:
    "Renews the deadline of the given tasks that are still in progress and answers them with their BMC endpoints and credentials. Tasks already final are left out, so a re-delivered job runs only what is left.",
  request: {
    params: z.object({ transitionId: Uuid.openapi({ param: { name: "transitionId", in: "path" } }) }),
    body: jsonBody(AgentJobRequestSchema),
  },
  responses: { 200: json(AgentJobSchema, "The tasks to run"), ...problems(404, 422) },
});

const job: RouteHandler<typeof jobRoute, AppEnv> = async (c) => {
  const { transitionId } = c.req.valid("param");
  const { taskIds } = c.req.valid("json");
  const { power, auth } = c.var.stores;
  const claimed = await power.lease(transitionId, taskIds, budgetFromNow);
  if (!claimed) throw notFound("transition", transitionId);
  const credentials: AgentJob["credentials"] = {};
  for (const id of new Set(claimed.tasks.flatMap((t) => (t.bmc ? [t.bmc.credentialId] : [])))) {
    const rec = await auth.credentials.get(id);
    if (!rec) continue; // The executor fails its tasks, saying the credential does not exist.
    credentials[id] = {
      username: rec.credential.spec.username,
      password: await unsealCredential(c.var.deps.auth.settings, id, rec.sealedSecret),
    };
  }
  const aborted = await power.abortSignaled([transitionId]);
  return c.json(
    {
      transitionId,
      operation: claimed.operation,
      deadlineMs: claimed.taskDeadlineMinutes * 60_000,
      abortSignaled: aborted.length > 0,
      tasks: claimed.tasks,
      credentials,
    } as never,
    200,
  );
};

const progressRoute = defineRoute("admin:power-agent", {
  method: "post",
  path: `${BASE}/progress`,
  tags,
  summary: "Report progress of running tasks (edge agents)",
  request: { body: jsonBody(AgentProgressSchema) },
  responses: {
    200: json(
      z.object({ abortSignaled: z.array(z.string()) }).openapi("PowerAgentProgressAnswer"),
      "Which of the agent's transitions were aborted: stop their tasks",
    ),
    ...problems(422),
  },
});

const progress: RouteHandler<typeof progressRoute, AppEnv> = async (c) => {
  const { updates, transitionIds } = c.req.valid("json");
  await c.var.stores.power.progress(updates);
  return c.json({ abortSignaled: await c.var.stores.power.abortSignaled(transitionIds) }, 200);
};

const resultsRoute = defineRoute("admin:power-agent", {
  method: "post",
  path: `${BASE}/results`,
  tags,
  summary: "Report final results of tasks (edge agents)",
  description:
    "Results for tasks already final (a repeat, or a task failed at its deadline meanwhile) change nothing. A verified success sets the node's inventory state through the inventory's write path.",
  request: { body: jsonBody(AgentResultsSchema) },
  responses: { 204: { description: "Recorded" }, ...problems(422) },
});

const results: RouteHandler<typeof resultsRoute, AppEnv> = async (c) => {
  const { transitionId, results } = c.req.valid("json");
  const { power, inventory } = c.var.stores;
  const succeeded = new Set(results.filter((r) => r.state === "succeeded").map((r) => r.taskId));
  if (succeeded.size > 0) {
    // Before the results, as the in-process agent does: whoever sees the transition completed
    // sees the inventory too. Only tasks still open: a success reported after its deadline
    // failed the task is not recorded.
    const t = await power.getTransition(transitionId);
    for (const task of t?.spec.tasks ?? [])
      if (succeeded.has(task.id) && task.state === "in-progress")
        await recordPowerState(inventory, task.xname, t!.spec.operation);
  }
  await power.finish(results as TaskResult[]);
  countTaskResults(c.var.deps.registry, results);
  return c.body(null, 204);
};

export function registerPowerAgent(app: OpenAPIHono<AppEnv>) {
  app.openapi(jobRoute, job);
  app.openapi(progressRoute, progress);
  app.openapi(resultsRoute, results);
}
