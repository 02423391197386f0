/** Where the edge's artifact cache lives inside its data directory (./cache.ts; a bundle's import fills it too). */
export const ARTIFACTS_DIR = "artifacts";
