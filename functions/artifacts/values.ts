/**
 * Artifact facts without zod, for code that must not load the API schemas
 * (an edge's `import` command, which runs before anything registers zod's
 * OpenAPI extension): ./schemas.ts builds its validation on these.
 */

/** What `sha256sum` prints: 64 lower-case hex digits. */
export const SHA256_PATTERN = /^[0-9a-f]{64}$/;
