/**
 * The edge in the single executable: bun:sqlite and `Bun.serve`, which
 * answers a boot storm's new connections at several times node:http's rate
 * on the same core (docs/benchmarks.md).
 */
import type { Server } from "bun";
import type { Logger } from "../../shared/log";
import type { BundleImportFlags, Env } from "../../shared/node/cli/app";
import { importWithEnv } from "../bundles/import";
import { type EdgeRuntime, type RunningEdge, startEdgeOn } from "../serve";
import { openBunSqlite } from "./sqlite";

/** `chamicore-edge import` in the single executable. */
export const importBundle = (env: Env, flags: BundleImportFlags) => importWithEnv(env, openBunSqlite, flags);

/** Bun's longest idle timeout for a kept-alive connection. */
const MAX_IDLE_SECONDS = 255;

export const bunRuntime: EdgeRuntime = {
  name: "bun",
  sqlite: openBunSqlite,
  listen: async (fetch, { host, port, keepAliveSeconds }) => {
    const server = Bun.serve({
      hostname: host,
      port,
      // The server rides along as the request's env, for peerAddress below.
      fetch: (req, srv) => fetch(req, srv),
      idleTimeout: Math.min(MAX_IDLE_SECONDS, Math.max(1, keepAliveSeconds)),
    });
    return {
      port: server.port ?? port,
      close: async () => {
        await server.stop();
      },
    };
  },
  peerAddress: (c) => (c.env as Server<undefined> | undefined)?.requestIP(c.req.raw)?.address,
  // Also hands mimalloc's free pages back to the system.
  collectGarbage: () => Bun.gc(true),
};

export function startEdge(
  env: Record<string, string | undefined> = process.env,
  opts: { logger?: Logger; resync?: boolean } = {},
): Promise<RunningEdge> {
  return startEdgeOn(bunRuntime, env, opts);
}
