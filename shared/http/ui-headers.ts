/**
 * The web UI's response headers, one list for both runtimes: the Node
 * server sets them on /ui/ (control/app.ts), and the build writes them to
 * the Worker's static assets as a `_headers` file (control/ui/vite.config.ts).
 * The UI runs no inline script or style and evaluates no string, so its
 * Content-Security-Policy allows only its own files.
 */
export const UI_PATH = "/ui/";

export const UI_HEADERS: Readonly<Record<string, string>> = {
  "Content-Security-Policy": [
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    "font-src 'self'",
    "connect-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join("; "),
  "X-Frame-Options": "DENY",
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "Cross-Origin-Opener-Policy": "same-origin",
};

/** Hashed build files never change; the page itself is checked on every load. */
export const cacheControlOf = (path: string) =>
  path.startsWith(`${UI_PATH}assets/`) ? "public, max-age=31536000, immutable" : "no-cache";
