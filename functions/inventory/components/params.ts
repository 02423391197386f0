import { z } from "@hono/zod-openapi";
import { IdSchema } from "../schemas";

export const ComponentIdParam = z.object({
  id: IdSchema.openapi({ param: { name: "id", in: "path" } }),
});
