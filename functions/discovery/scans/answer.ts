import { z } from "@hono/zod-openapi";
import { listSchema, resourceSchema } from "../../../shared/envelope";
import { answers } from "../../answer";
import type { AppEnv } from "../../env";
import { DISCOVERY_API_VERSION, SCAN_KIND, ScanSchema } from "../schemas";
import type { DiscoverySettings } from "../service";

/** Discovery answers: envelopes with `apiVersion: discovery/v1`. */
export const answer = answers(DISCOVERY_API_VERSION);

export const KIND = SCAN_KIND;
export const BASE = "/discovery/v1/scans";
export const tags = ["discovery"];

export const ScanResourceSchema = resourceSchema(KIND, ScanSchema);
export const ScanListSchema = listSchema(KIND, ScanSchema.partial());

export const ScanIdParam = z.object({
  id: z
    .string()
    .min(1)
    .max(64)
    .openapi({ param: { name: "id", in: "path" }, example: "6f1c2b4e-8d1a-4f3b-9c2d-1e5f7a9b0c3d" }),
});

/** The entry point's discovery settings, or none (no agent to wake). */
export const discoverySettingsOf = (deps: AppEnv["Variables"]["deps"]): DiscoverySettings =>
  deps.discovery ?? {};

/** The token's subject, for `requestedBy`. */
export const requesterOf = (c: { var: AppEnv["Variables"] }) => c.var.principal?.sub ?? "anonymous";
