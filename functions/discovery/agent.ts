/**
 * The discovery agent endpoints (`/discovery/v1/agent/scans/{id}/*`): how
 * an edge agent runs a scan the dispatcher handed its site over NATS
 * (shared/work.ts). The edge reads Redfish; the merge into the inventory
 * and the power endpoints happens here, through the same rules as the
 * in-process agent (service.ts `addressResult`).
 *
 * - `POST …/start` answers the scan's targets, the addresses already done
 *   (a re-delivered scan goes on where it stopped) and the credentials to
 *   use; 409 when the scan is no longer running (cancelled, or failed as
 *   abandoned).
 * - `POST …/results` merges one address's findings (or records its error)
 *   and answers whether the scan is still running (false: cancelled, stop).
 * - `POST …/finish` ends the scan from its results.
 *
 * `admin:discovery-agent` (the `edge` role has it): the start answer holds
 * BMC passwords.
 */
import { type OpenAPIHono, type RouteHandler, z } from "@hono/zod-openapi";
import { ComponentTypeSchema } from "../../shared/enums";
import { ApiError, notFound } from "../../shared/problem";
import { unsealCredential } from "../auth/secrets";
import type { AppEnv } from "../env";
import { DiscoveredComponentSchema } from "../inventory/schemas";
import { defineRoute, json, jsonBody, problems } from "../route";
import { type Target, TargetSchema } from "./schemas";
import { addressResult, scanOutcome } from "./service";

const tags = ["discovery agent"];
const ScanParam = z.object({
  id: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: "id", in: "path" } }),
});
const path = (action: string) => `/discovery/v1/agent/scans/{id}/${action}`;

export const AgentScanSchema = z
  .object({
    id: z.string(),
    dryRun: z.boolean(),
    targets: z.array(TargetSchema),
    done: z
      .array(z.object({ targetId: z.string(), address: z.string() }))
      .openapi({ description: "Addresses with a result already: not scanned again." }),
    credentials: z.record(z.string(), z.object({ username: z.string(), password: z.string() })),
  })
  .openapi("DiscoveryAgentScan");
/** Targets as stored: their options parsed by the driver's schema (service.ts buildTarget). */
export type AgentScan = Omit<z.infer<typeof AgentScanSchema>, "targets"> & { targets: Target[] };

const ProblemItem = z.object({
  path: z.string(),
  id: z.string().optional(),
  field: z.string().optional(),
  message: z.string(),
});

export const AgentFindingSchema = z
  .strictObject({
    targetId: z.string().min(1),
    address: z.string().min(1),
    found: z
      .object({
        bmc: z.object({ id: z.string().optional(), type: ComponentTypeSchema }),
        components: z.array(DiscoveredComponentSchema).max(10_000),
        problems: z.array(ProblemItem).max(10_000),
      })
      .optional()
      .openapi({ description: "What the Redfish driver found (absent when `error` says why it failed)." }),
    error: z.string().max(4096).optional(),
  })
  .openapi("DiscoveryAgentFinding");

const startRoute = defineRoute("admin:discovery-agent", {
  method: "post",
  path: path("start"),
  tags,
  summary: "Start (or resume) a scan handed to a site (edge agents)",
  request: { params: ScanParam },
  responses: { 200: json(AgentScanSchema, "What to scan"), ...problems(404, 409) },
});

const start: RouteHandler<typeof startRoute, AppEnv> = async (c) => {
  const { id } = c.req.valid("param");
  const { discovery, auth } = c.var.stores;
  const scan = await discovery.getScan(id);
  if (!scan) throw notFound("scan", id);
  if (scan.spec.state !== "running")
    throw new ApiError("conflict", `scan '${id}' is ${scan.spec.state}: nothing to run`);
  const targets = (await discovery.getTargets(scan.spec.targetIds)).map((t) => t.spec);
  const byId = new Map(targets.map((t) => [t.id, t]));
  const credentials: AgentScan["credentials"] = {};
  for (const credentialId of new Set(targets.map((t) => t.credentialId))) {
    const rec = await auth.credentials.get(credentialId);
    if (!rec) continue; // The edge fails those addresses, saying the credential does not exist.
    credentials[credentialId] = {
      username: rec.credential.spec.username,
      password: await unsealCredential(c.var.deps.auth.settings, credentialId, rec.sealedSecret),
    };
  }
  return c.json(
    {
      id,
      dryRun: scan.spec.dryRun,
      // In the scan's order; deleted targets left out.
      targets: scan.spec.targetIds.flatMap((t) => (byId.has(t) ? [byId.get(t)!] : [])),
      done: (scan.spec.results ?? []).map((r) => ({ targetId: r.targetId, address: r.address })),
      credentials,
    } as never,
    200,
  );
};

const resultsRoute = defineRoute("admin:discovery-agent", {
  method: "post",
  path: path("results"),
  tags,
  summary: "Report one address of a scan (edge agents)",
  description:
    "Merges what was found into the inventory and the power BMC endpoints (or records the error) and appends the address's result. `running: false` means the scan was cancelled: stop.",
  request: { params: ScanParam, body: jsonBody(AgentFindingSchema) },
  responses: {
    200: json(z.object({ running: z.boolean() }).openapi("DiscoveryAgentFindingAnswer"), "Recorded"),
    ...problems(404, 409, 422),
  },
});

const results: RouteHandler<typeof resultsRoute, AppEnv> = async (c) => {
  const { id } = c.req.valid("param");
  const body = c.req.valid("json");
  const { discovery, inventory, power } = c.var.stores;
  const scan = await discovery.getScan(id, { results: false });
  if (!scan) throw notFound("scan", id);
  if (scan.spec.state !== "running") return c.json({ running: false }, 200);
  if (!scan.spec.targetIds.includes(body.targetId))
    throw new ApiError("validation", `target '${body.targetId}' is not part of scan '${id}'`, {
      errors: [{ field: "targetId", message: "not a target of this scan" }],
    });
  const target = await discovery.getTarget(body.targetId);
  if (!target) throw notFound("target", body.targetId);
  const found = body.found
    ? body.found
    : { error: body.error ?? "the agent reported neither findings nor an error" };
  const result = await addressResult(
    { inventory, power },
    target.spec,
    body.address,
    found,
    scan.spec.dryRun,
  );
  return c.json({ running: await discovery.record(id, result) }, 200);
};

const finishRoute = defineRoute("admin:discovery-agent", {
  method: "post",
  path: path("finish"),
  tags,
  summary: "End a scan (edge agents)",
  description:
    "Completed, or failed when every address failed. A scan already ended (cancelled) stays as it is.",
  request: { params: ScanParam },
  responses: { 204: { description: "Ended" }, ...problems(404) },
});

const finish: RouteHandler<typeof finishRoute, AppEnv> = async (c) => {
  const { id } = c.req.valid("param");
  const scan = await c.var.stores.discovery.getScan(id);
  if (!scan) throw notFound("scan", id);
  const outcome = scanOutcome(scan.spec.results ?? []);
  await c.var.stores.discovery.finish(id, outcome.state, outcome.message);
  return c.body(null, 204);
};

export function registerDiscoveryAgent(app: OpenAPIHono<AppEnv>) {
  app.openapi(startRoute, start);
  app.openapi(resultsRoute, results);
  app.openapi(finishRoute, finish);
}
