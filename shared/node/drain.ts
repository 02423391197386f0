/**
 * Stopping a node:http server promptly. `server.close()` alone waits until
 * every kept-alive connection goes idle, and a client that asks something
 * every second (an edge sends progress and polls the feed) never lets its
 * connection go idle: a control plane told to stop stayed up for minutes,
 * past any supervisor's stop timeout. Here every response from then on says
 * `Connection: close` (so a connection ends with the answer it carries),
 * idle connections close at once, and whatever is still open when the grace
 * period ends is cut.
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http";

/** How long requests in flight at a stop get to finish. */
export const DRAIN_GRACE_MS = 5_000;

/** Resolves once `server` has stopped listening and every connection is closed. */
export function closeGracefully(server: Server, graceMs = DRAIN_GRACE_MS): Promise<void> {
  // Before the application's listener, which may answer synchronously.
  server.prependListener("request", (_req: IncomingMessage, res: ServerResponse) => {
    if (!res.headersSent) res.setHeader("Connection", "close");
  });
  return new Promise<void>((resolve) => {
    const cut = setTimeout(() => server.closeAllConnections(), graceMs);
    cut.unref();
    server.close(() => {
      clearTimeout(cut);
      resolve();
    });
  });
}
