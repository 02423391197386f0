import { z } from "@hono/zod-openapi";
import { listSchema, resourceSchema } from "../../../shared/envelope";
import { answers } from "../../answer";
import type { AppEnv } from "../../env";
import { POWER_API_VERSION, TRANSITION_KIND, TransitionSchema } from "../schemas";
import { DEFAULT_MAX_NODES, type PowerSettings } from "../service";

/** Power answers: envelopes with `apiVersion: power/v1`. */
export const answer = answers(POWER_API_VERSION);

export const KIND = TRANSITION_KIND;
export const BASE = "/power/v1/transitions";
export const tags = ["power"];

export const TransitionResourceSchema = resourceSchema(KIND, TransitionSchema);
export const TransitionListSchema = listSchema(KIND, TransitionSchema.partial());

export const TransitionIdParam = z.object({
  id: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: "id", in: "path" }, example: "6f1c2b4e-8d1a-4f3b-9c2d-1e5f7a9b0c3d" }),
});

/** The entry point's power settings, or the defaults where it gave none. */
export const powerSettingsOf = (deps: AppEnv["Variables"]["deps"]): PowerSettings =>
  deps.power ?? { maxNodes: DEFAULT_MAX_NODES };

/** The token's subject, for `requestedBy`. */
export const requesterOf = (c: { var: AppEnv["Variables"] }) => c.var.principal?.sub ?? "anonymous";
