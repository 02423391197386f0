import type { OpenAPIHono } from "@hono/zod-openapi";
import type { AppEnv } from "../env";
import { registerComponentRoutes } from "./components";
import { registerGroupRoutes } from "./groups/routes";
import { registerImportRoute } from "./import";
import {
  createInterface,
  createInterfaceRoute,
  deleteInterface,
  deleteInterfaceRoute,
  getInterface,
  getInterfaceRoute,
  listInterfaces,
  listInterfacesRoute,
  patchInterface,
  patchInterfaceRoute,
  replaceInterface,
  replaceInterfaceRoute,
} from "./interfaces/routes";

export { IMPORT_BODY_LIMIT, IMPORT_PATH } from "./import";

/** The inventory service (SMD, `/hsm/v2`). */
export function registerInventory(app: OpenAPIHono<AppEnv>) {
  registerComponentRoutes(app);
  app.openapi(listInterfacesRoute, listInterfaces);
  app.openapi(createInterfaceRoute, createInterface);
  app.openapi(getInterfaceRoute, getInterface);
  app.openapi(replaceInterfaceRoute, replaceInterface);
  app.openapi(patchInterfaceRoute, patchInterface);
  app.openapi(deleteInterfaceRoute, deleteInterface);
  registerGroupRoutes(app, "group");
  registerGroupRoutes(app, "partition");
  registerImportRoute(app);
}
