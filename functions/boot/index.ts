/** The boot service (BSS, `/boot/v1`): boot parameters and the iPXE boot script. */
import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../env";
import { bootScript, bootScriptRoute } from "./bootscript";
import { createBootParams, createBootParamsRoute } from "./params/create";
import { deleteBootParams, deleteBootParamsRoute } from "./params/delete";
import { getBootParams, getBootParamsRoute } from "./params/get";
import { listBootParams, listBootParamsRoute } from "./params/list";
import { patchBootParams, patchBootParamsRoute } from "./params/patch";
import { replaceBootParams, replaceBootParamsRoute } from "./params/replace";

export { answerBootScript, parseBootQuery, resolveBoot } from "./bootscript";

export function registerBoot(app: OpenAPIHono<AppEnv>) {
  app.openapi(listBootParamsRoute, listBootParams);
  app.openapi(createBootParamsRoute, createBootParams);
  app.openapi(getBootParamsRoute, getBootParams);
  app.openapi(replaceBootParamsRoute, replaceBootParams);
  app.openapi(patchBootParamsRoute, patchBootParams);
  app.openapi(deleteBootParamsRoute, deleteBootParams);
  app.openapi(bootScriptRoute, bootScript);
}
