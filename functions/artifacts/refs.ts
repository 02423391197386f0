/**
 * The artifacts boot parameters name: what an edge caches for its rack,
 * and what an air-gap bundle carries with the parameters it holds.
 */
import type { BootParams } from "../boot/schemas";
import type { ArtifactRef } from "./schemas";
import { SHA256_PATTERN } from "./values";

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
