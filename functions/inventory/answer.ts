import { answers } from "../answer";
import { HSM_API_VERSION } from "./schemas";

/** Inventory answers: envelopes with `apiVersion: hsm/v2`. */
export const answer = answers(HSM_API_VERSION);
