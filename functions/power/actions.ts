/**
 * The convenience actions: `POST /power/v1/actions/on|off|reboot|reset`
 * with `{nodes, group, dryRun}`, each a transition of one operation (on,
 * off, soft-restart, hard-restart). One factory serves the four, since
 * only the operation differs.
 */
import type { OpenAPIHono, RouteHandler } from "@hono/zod-openapi";
import { httpEtag, toResource } from "../../shared/envelope";
import type { AppEnv } from "../env";
import { defineRoute, json, jsonBody, problems } from "../route";
import { POWER_API_VERSION, PowerActionSchema } from "./schemas";
import { ACTIONS, createTransition, type PowerActionName } from "./service";
import {
  KIND,
  powerSettingsOf,
  requesterOf,
  BASE as TRANSITIONS,
  TransitionResourceSchema,
  tags,
} from "./transitions/answer";
import { CREATE_DESCRIPTION } from "./transitions/create";

const SUMMARIES: Record<PowerActionName, string> = {
  on: "Power nodes on",
  off: "Power nodes off (ForceOff)",
  reboot: "Reboot nodes gracefully (soft-restart: GracefulRestart)",
  reset: "Reset nodes (hard-restart: ForceRestart, or off then on)",
};

export function registerPowerActions(app: OpenAPIHono<AppEnv>) {
  for (const name of Object.keys(ACTIONS) as PowerActionName[]) {
    const operation = ACTIONS[name];
    const route = defineRoute("write:power", {
      method: "post",
      path: `/power/v1/actions/${name}`,
      tags,
      summary: SUMMARIES[name],
      description: `A transition with operation \`${operation}\` over \`nodes\` and the members of \`group\`. ${CREATE_DESCRIPTION.replace("`location`", "`nodes`")} The answer is that transition (Location: /power/v1/transitions/{id}).`,
      request: { body: jsonBody(PowerActionSchema) },
      responses: {
        201: json(TransitionResourceSchema, "The transition started; Location and ETag headers set"),
        ...problems(422),
      },
    });
    const handler: RouteHandler<typeof route, AppEnv> = async (c) => {
      const body = c.req.valid("json");
      const row = await createTransition(
        c.var.stores,
        powerSettingsOf(c.var.deps),
        {
          operation,
          taskDeadlineMinutes: body.taskDeadlineMinutes,
          xnames: body.nodes ?? [],
          group: body.group,
          dryRun: body.dryRun,
          xnamesField: "nodes",
        },
        requesterOf(c),
      );
      // Not answer.one: the Location is the transition's, not under this action's path.
      return c.json(toResource(KIND, POWER_API_VERSION, row) as never, 201, {
        ETag: httpEtag(row.etag),
        Location: `${TRANSITIONS}/${row.id}`,
      });
    };
    app.openapi(route, handler);
  }
}
