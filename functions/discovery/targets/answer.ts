import { z } from "@hono/zod-openapi";
import { listSchema, resourceSchema } from "../../../shared/envelope";
import { answers } from "../../answer";
import { IdSchema } from "../../inventory/schemas";
import { DISCOVERY_API_VERSION, TARGET_KIND, TargetSchema } from "../schemas";

/** Discovery answers: envelopes with `apiVersion: discovery/v1`. */
export const answer = answers(DISCOVERY_API_VERSION);

export const KIND = TARGET_KIND;
export const BASE = "/discovery/v1/targets";
export const tags = ["discovery"];

export const TargetResourceSchema = resourceSchema(KIND, TargetSchema);
export const TargetListSchema = listSchema(KIND, TargetSchema.partial());

export const TargetIdParam = z.object({
  id: IdSchema.openapi({ param: { name: "id", in: "path" }, example: "rack1" }),
});
