/**
 * The edge on Node (a checkout, `npx chamicore edge`, the tests):
 * better-sqlite3 and @hono/node-server.
 */
import type { Server } from "node:http";
import { createAdaptorServer } from "@hono/node-server";
import { getConnInfo } from "@hono/node-server/conninfo";
import type { Logger } from "../../shared/log";
import type { BundleImportFlags, Env } from "../../shared/node/cli/app";
import { closeGracefully } from "../../shared/node/drain";
import { importWithEnv } from "../bundles/import";
import { type EdgeRuntime, type RunningEdge, startEdgeOn } from "../serve";
import { openBetterSqlite } from "./sqlite";

export type { RunningEdge } from "../serve";

/** `chamicore edge import` under Node. */
export const importBundle = (env: Env, flags: BundleImportFlags) =>
  importWithEnv(env, openBetterSqlite, flags);

export const nodeRuntime: EdgeRuntime = {
  name: "node",
  sqlite: openBetterSqlite,
  listen: (fetch, { host, port, keepAliveSeconds }) =>
    new Promise((resolve, reject) => {
      const s = createAdaptorServer({ fetch }) as Server;
      s.keepAliveTimeout = keepAliveSeconds * 1000;
      // Thousands of nodes connect within a second of a power-on: a deeper accept queue than
      // Node's 511 (the kernel caps it at net.core.somaxconn) keeps their SYNs from being dropped.
      s.once("error", reject);
      s.listen({ host, port, backlog: 4096 }, () => {
        const addr = s.address();
        resolve({
          port: typeof addr === "object" && addr ? addr.port : port,
          close: () => closeGracefully(s),
        });
      });
    }),
  peerAddress: (c) => getConnInfo(c).remote.address,
};

export function startEdge(
  env: Record<string, string | undefined> = process.env,
  opts: { logger?: Logger; resync?: boolean } = {},
): Promise<RunningEdge> {
  return startEdgeOn(nodeRuntime, env, opts);
}
