/**
 * The air-gap bundle: what crosses to an edge that no network reaches, as
 * one file (docs/air-gapped.md). A gzipped tar whose members come in this
 * order:
 *
 * 1. `manifest.json`: the format, the source control plane's id, the
 *    position the replica is at after importing it, the base position a
 *    delta applies to, when it was made, counts, and every other member's
 *    name, size and SHA-256;
 * 2. `manifest.sig`: a JWS over the manifest's bytes with a detached payload
 *    (`<header>..<signature>`), made with the control plane's bundle key;
 * 3. the members the manifest lists, in its order: `snapshot/<resource>.ndjson`
 *    (one resource envelope per line) for a snapshot, or `changes.ndjson`
 *    (one change event per line) for a delta; then `artifacts/<sha256>`, the
 *    boot files the included boot parameters name.
 *
 * The manifest comes first so that an importer checks the signature before
 * it reads anything else, and stops any member at the size the manifest
 * gives it: a member that is longer, shorter, other than listed, or whose
 * digest differs refuses the whole bundle.
 */
import { z } from "zod";
import { SHA256_PATTERN } from "../artifacts/values";
import { SNAPSHOT_RESOURCES, type SnapshotResource } from "../events/store";

export const BUNDLE_FORMAT = "chamicore-bundle/1";
export const MANIFEST_MEMBER = "manifest.json";
export const SIGNATURE_MEMBER = "manifest.sig";
export const CHANGES_MEMBER = "changes.ndjson";
/** A manifest or signature larger than this is not one: refused before it is parsed. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export const snapshotMember = (r: SnapshotResource) => `snapshot/${r}.ndjson`;
export const artifactMember = (sha256: string) => `artifacts/${sha256}`;

/**
 * Every name a member may have: fixed names, or an artifact's digest. Any
 * other name (`../x`, `/etc/x`, a link) is refused before a byte of it is
 * written anywhere.
 */
const MEMBER_NAME = new RegExp(
  `^(${SNAPSHOT_RESOURCES.map((r) => `snapshot/${r}\\.ndjson`).join("|")}|changes\\.ndjson|artifacts/[0-9a-f]{64})$`,
);
export const isMemberName = (name: string) => MEMBER_NAME.test(name);

export const BundleMemberSchema = z.strictObject({
  name: z.string().refine(isMemberName, "not a member name a bundle may hold"),
  size: z.number().int().min(0),
  sha256: z.string().regex(SHA256_PATTERN),
});
export type BundleMember = z.infer<typeof BundleMemberSchema>;

export const BundleManifestSchema = z
  .strictObject({
    format: z.literal(BUNDLE_FORMAT),
    kind: z.enum(["snapshot", "changes"]),
    /** The control plane's id (`events.installation`): an edge follows one source. */
    source: z.string().min(1).max(64),
    /** The position an edge is at once it imported this bundle. */
    position: z.number().int().min(0),
    /** A delta: the position it follows. The replica must be exactly there. */
    base: z.number().int().min(0).optional(),
    createdAt: z.iso.datetime({ offset: true }),
    counts: z.record(z.string(), z.number().int().min(0)),
    /** Artifacts the boot parameters name that the control plane does not hold (a URL elsewhere): not carried. */
    artifactsLeftOut: z.array(z.object({ sha256: z.string(), url: z.string().nullable() })).default([]),
    members: z.array(BundleMemberSchema),
  })
  .refine((m) => (m.kind === "changes") === (m.base !== undefined), {
    message: "a changes bundle has a base position, a snapshot none",
    path: ["base"],
  })
  .refine((m) => new Set(m.members.map((x) => x.name)).size === m.members.length, {
    message: "a member is listed twice",
    path: ["members"],
  });
export type BundleManifest = z.infer<typeof BundleManifestSchema>;

/**
 * The signature's JWS `typ`: a token key trusted by mistake cannot pass a
 * JWT off as a manifest's signature, nor a bundle key sign a token.
 */
export const SIGNATURE_TYPE = "chamicore-bundle-manifest";
