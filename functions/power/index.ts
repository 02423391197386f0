/** The power service (PCS, `/power/v1`): BMC endpoints, transitions, power status and actions. */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../env";
import { registerPowerActions } from "./actions";
import { registerPowerAgent } from "./agent";
import { createBmc, createBmcRoute } from "./bmcs/create";
import { deleteBmc, deleteBmcRoute } from "./bmcs/delete";
import { getBmc, getBmcRoute } from "./bmcs/get";
import { listBmcs, listBmcsRoute } from "./bmcs/list";
import { patchBmc, patchBmcRoute } from "./bmcs/patch";
import { replaceBmc, replaceBmcRoute } from "./bmcs/replace";
import { powerStatus, powerStatusRoute } from "./status";
import { abortTransition, abortTransitionRoute } from "./transitions/abort";
import { createTransitionHandler, createTransitionRoute } from "./transitions/create";
import { getTransition, getTransitionRoute } from "./transitions/get";
import { listTransitions, listTransitionsRoute } from "./transitions/list";

export type { PowerSettings } from "./service";

export function registerPower(app: OpenAPIHono<AppEnv>) {
  app.openapi(listBmcsRoute, listBmcs);
  app.openapi(createBmcRoute, createBmc);
  app.openapi(getBmcRoute, getBmc);
  app.openapi(replaceBmcRoute, replaceBmc);
  app.openapi(patchBmcRoute, patchBmc);
  app.openapi(deleteBmcRoute, deleteBmc);
  app.openapi(listTransitionsRoute, listTransitions);
  app.openapi(createTransitionRoute, createTransitionHandler);
  app.openapi(getTransitionRoute, getTransition);
  app.openapi(abortTransitionRoute, abortTransition);
  app.openapi(powerStatusRoute, powerStatus);
  registerPowerActions(app);
  registerPowerAgent(app);
}
