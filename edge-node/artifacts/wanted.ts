/**
 * The artifacts an edge's boot parameters name: every kernel and initrd of
 * every params row in the replica (a component's, a role's, the default),
 * which is what the rack's nodes may ask for next.
 */
import type { ArtifactRef } from "../../functions/artifacts/schemas";
import { SHA256_PATTERN } from "../../functions/artifacts/schemas";
import type { BootParams } from "../../functions/boot/schemas";
import type { Replica } from "../replica/replica";

/**
 * The refs in `params`, then `extra` (those labelled for the site), once per
 * digest. A field that is absent or does not look like a ref (a document
 * replicated before artifacts existed) is passed over: the cache must never
 * trip on what the replica holds.
 */
export function artifactRefsOf(params: Iterable<BootParams>, extra: ArtifactRef[] = []): ArtifactRef[] {
  const out = new Map<string, ArtifactRef>();
  for (const spec of params)
    for (const ref of [spec.kernel, spec.initrd] as unknown[])
      if (isRef(ref) && !out.has(ref.sha256)) out.set(ref.sha256, ref);
  for (const ref of extra) if (!out.has(ref.sha256)) out.set(ref.sha256, ref);
  return [...out.values()];
}

function isRef(r: unknown): r is ArtifactRef {
  if (typeof r !== "object" || r === null) return false;
  const ref = r as Record<string, unknown>;
  return (
    typeof ref.artifact === "string" &&
    typeof ref.sha256 === "string" &&
    SHA256_PATTERN.test(ref.sha256) &&
    typeof ref.size === "number" &&
    Number.isSafeInteger(ref.size) &&
    ref.size >= 0 &&
    (ref.url === null || typeof ref.url === "string")
  );
}

/** Every boot params spec the replica holds, from the boot index's memory: no query, no parse. */
export const replicaBootParams = (replica: Replica): Iterable<BootParams> => replica.boot.allParams();
