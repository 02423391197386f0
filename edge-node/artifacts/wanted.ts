/**
 * The boot parameters an edge's artifacts come from: every params row in
 * the replica (a component's, a role's, the default), whose kernels and
 * initrds (functions/artifacts/refs.ts) the rack's nodes may ask for next.
 */
import type { BootParams } from "../../functions/boot/schemas";
import type { Replica } from "../replica/replica";

/** Every boot params spec the replica holds, from the boot index's memory: no query, no parse. */
export const replicaBootParams = (replica: Replica): Iterable<BootParams> => replica.boot.allParams();
