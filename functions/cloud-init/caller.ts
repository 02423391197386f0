/**
 * Who is asking: the caller's address (after trusted proxies) and the node
 * that holds it. cloud-init's NoCloud reader names no node, so its address
 * does; the documents, phone-home and the artifacts' progress use this.
 */
import type { Context } from "hono";
import { clientAddress } from "../../shared/http/client-address";
import { ApiError } from "../../shared/problem";
import type { AppEnv } from "../env";
import type { CloudInitReadStore, NodeFacts } from "./store";

/** The caller's address after trusted proxies (canonical), or undefined when unknown. */
export function callerOf(c: Context<AppEnv>): string | undefined {
  const s = c.var.deps.serving;
  return clientAddress(s.peerAddress(c), c.req.header("X-Forwarded-For"), s.trustedProxies);
}

/** The node holding `address` (the caller's): 404 when none or unknown, 409 when several. */
export async function nodeAt(store: CloudInitReadStore, address: string | undefined): Promise<NodeFacts> {
  if (address === undefined)
    throw new ApiError(
      "not-found",
      "The caller's address is unknown, so the node cannot be found: pass ?mac=",
    );
  const ids = await store.componentsWithAddress(address);
  if (ids.length > 1)
    throw new ApiError(
      "conflict",
      `Address ${address} belongs to more than one component (${ids.join(", ")}); use /cloud-init/{id}/… or ?mac=`,
    );
  const node = ids[0] === undefined ? undefined : await store.nodeById(ids[0]);
  if (!node) throw new ApiError("not-found", `No component has an interface with address ${address}`);
  return node;
}

/** The node asking: the one with `mac` when the caller names it, else the one holding its address. */
export async function callingNode(
  store: CloudInitReadStore,
  mac: string | undefined,
  caller: string | undefined,
): Promise<NodeFacts> {
  if (mac === undefined) return nodeAt(store, caller);
  const node = await store.nodeByMac(mac);
  if (!node) throw new ApiError("not-found", `No component has an interface with MAC ${mac}`);
  return node;
}
