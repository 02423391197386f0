import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../../env";
import { createComponent, createComponentRoute } from "./create";
import { deleteComponent, deleteComponentRoute } from "./delete";
import { getComponent, getComponentRoute } from "./get";
import { listComponents, listComponentsRoute } from "./list";
import { patchComponent, patchComponentRoute } from "./patch";
import { replaceComponent, replaceComponentRoute } from "./replace";
import { inventorySummary, inventorySummaryRoute } from "./summary";

export function registerComponentRoutes(app: OpenAPIHono<AppEnv>) {
  app.openapi(listComponentsRoute, listComponents);
  app.openapi(createComponentRoute, createComponent);
  app.openapi(getComponentRoute, getComponent);
  app.openapi(replaceComponentRoute, replaceComponent);
  app.openapi(patchComponentRoute, patchComponent);
  app.openapi(deleteComponentRoute, deleteComponent);
  app.openapi(inventorySummaryRoute, inventorySummary);
}
