/** The release of this build; a unit test keeps it equal to package.json. */
export const VERSION = "0.1.0";
/** The API-Version response header value. */
export const API_VERSION = "2026-11-25";
