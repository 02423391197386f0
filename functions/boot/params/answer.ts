import { listSchema, resourceSchema } from "../../../shared/envelope";
import { answers } from "../../answer";
import { BOOT_API_VERSION, BOOT_PARAMS_KIND, BootParamsSchema } from "../schemas";

/** Boot answers: envelopes with `apiVersion: boot/v1`. */
export const answer = answers(BOOT_API_VERSION);

export const KIND = BOOT_PARAMS_KIND;
export const BASE = "/boot/v1/bootparams";
export const tags = ["boot"];

export const BootParamsResourceSchema = resourceSchema(KIND, BootParamsSchema);
export const BootParamsListSchema = listSchema(KIND, BootParamsSchema.partial());
