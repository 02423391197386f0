import { z } from "@hono/zod-openapi";
import { IdSchema } from "../../inventory/schemas";

export const BootParamsIdParam = z.object({
  id: IdSchema.openapi({ param: { name: "id", in: "path" }, example: "bp-3f2a9c1d" }),
});
