import { z } from "@hono/zod-openapi";
import { listSchema, resourceSchema } from "../../../shared/envelope";
import { answers } from "../../answer";
import { IdSchema } from "../../inventory/schemas";
import { BMC_KIND, BmcEndpointSchema, POWER_API_VERSION } from "../schemas";

/** Power answers: envelopes with `apiVersion: power/v1`. */
export const answer = answers(POWER_API_VERSION);

export const KIND = BMC_KIND;
export const BASE = "/power/v1/bmcs";
export const tags = ["power"];

export const BmcResourceSchema = resourceSchema(KIND, BmcEndpointSchema);
export const BmcListSchema = listSchema(KIND, BmcEndpointSchema.partial());

export const BmcIdParam = z.object({
  id: IdSchema.openapi({ param: { name: "id", in: "path" }, example: "x1000c0s0b0" }),
});
