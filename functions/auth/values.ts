/**
 * Auth values without zod, so that the web UI's bundle can take them; their
 * schemas are in ./schemas.ts.
 */

/** What a device credential logs in to. */
export const CREDENTIAL_TYPES = ["redfish", "ipmi", "snmp", "ssh", "other"] as const;
