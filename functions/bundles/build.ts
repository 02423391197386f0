/**
 * Makes an air-gap bundle (./format.ts) on the control plane: a snapshot,
 * or the changes after a position, with the artifacts their boot
 * parameters name, signed with the bundle key.
 *
 * The manifest goes first and holds every member's digest, so each JSON
 * member is serialized twice, line by line: once to hash it, once to write
 * it. Only the rows read from the database are held, never the serialized
 * bundle; artifacts are streamed from where the control plane keeps them
 * (their digest is known: they are stored by it).
 */
import { sha256 } from "@noble/hashes/sha2.js";
import { bytesToHex } from "@noble/hashes/utils.js";
import { createTarPacker } from "modern-tar";
import type { ChangeEvent } from "../../shared/events";
import { ApiError } from "../../shared/problem";
import { artifactRefsOf } from "../artifacts/refs";
import type { ArtifactRef } from "../artifacts/schemas";
import type { ArtifactFiles } from "../artifacts/store";
import type { BootParams } from "../boot/schemas";
import { type FeedStore, SNAPSHOT_RESOURCES, type Snapshot } from "../events/store";
import {
  artifactMember,
  BUNDLE_FORMAT,
  type BundleManifest,
  type BundleMember,
  CHANGES_MEMBER,
  MANIFEST_MEMBER,
  SIGNATURE_MEMBER,
  snapshotMember,
} from "./format";

export interface BundleSources {
  feed: FeedStore;
  /** Where the control plane keeps uploaded artifacts; none: no artifact is carried. */
  files?: ArtifactFiles | undefined;
  /** A detached JWS (`<header>..<signature>`) over the manifest's bytes. */
  sign(manifest: Uint8Array): Promise<string>;
}

export interface BundleRequest {
  /** The changes after this position; absent: a snapshot. */
  since?: number | undefined;
  /** Carry the artifacts the boot parameters name (default true). */
  artifacts?: boolean | undefined;
  now?: Date;
}

export interface Bundle {
  manifest: BundleManifest;
  /** The gzipped tar, made as it is read. */
  body: ReadableStream<Uint8Array>;
}

/** The changes feed's page size while a delta is read. */
const PAGE = 1000;
/** Lines are written to the tar in chunks of about this many bytes. */
const CHUNK = 64 * 1024;

const encoder = new TextEncoder();

/** A JSON member: its lines, made again each time it is walked. */
type Lines = () => Iterable<string>;

function* ndjson(items: readonly unknown[]): Iterable<string> {
  for (const item of items) yield `${JSON.stringify(item)}\n`;
}

/** Size and SHA-256 of a JSON member, from one walk of its lines. */
function digest(lines: Lines): { size: number; sha256: string } {
  const h = sha256.create();
  let size = 0;
  for (const line of lines()) {
    const bytes = encoder.encode(line);
    size += bytes.length;
    h.update(bytes);
  }
  return { size, sha256: bytesToHex(h.digest()) };
}

export async function buildBundle(src: BundleSources, req: BundleRequest = {}): Promise<Bundle> {
  const source = await src.feed.source();
  const json: { name: string; lines: Lines }[] = [];
  const counts: Record<string, number> = {};
  let position: number;
  let base: number | undefined;
  let params: BootParams[];
  if (req.since === undefined) {
    const snapshot = await src.feed.snapshot();
    position = snapshot.position;
    for (const r of SNAPSHOT_RESOURCES) {
      const items = snapshot[r as keyof Omit<Snapshot, "position" | "source">];
      counts[r] = items.length;
      json.push({ name: snapshotMember(r), lines: () => ndjson(items) });
    }
    params = snapshot.bootparams.map((b) => b.spec as BootParams);
  } else {
    base = req.since;
    const events = await changesAfter(src.feed, req.since);
    position = events.head;
    counts.events = events.items.length;
    json.push({ name: CHANGES_MEMBER, lines: () => ndjson(events.items) });
    params = events.items
      .filter((e) => e.type.startsWith("chamicore.bss.bootparams.") && !e.type.endsWith(".deleted"))
      .map((e) => (e.data as { spec: BootParams }).spec);
  }

  const members: BundleMember[] = json.map((m) => ({ name: m.name, ...digest(m.lines) }));
  const carried: { ref: ArtifactRef; member: BundleMember }[] = [];
  const artifactsLeftOut: { sha256: string; url: string | null }[] = [];
  if (req.artifacts !== false)
    for (const ref of artifactRefsOf(params)) {
      const file = ref.url === null ? await src.files?.open(ref.sha256) : undefined;
      if (!file) {
        artifactsLeftOut.push({ sha256: ref.sha256, url: ref.url });
        continue;
      }
      const member = { name: artifactMember(ref.sha256), size: file.size, sha256: ref.sha256 };
      carried.push({ ref, member });
      members.push(member);
    }
  counts.artifacts = carried.length;

  const manifest: BundleManifest = {
    format: BUNDLE_FORMAT,
    kind: base === undefined ? "snapshot" : "changes",
    source,
    position,
    ...(base === undefined ? {} : { base }),
    createdAt: (req.now ?? new Date()).toISOString(),
    counts,
    artifactsLeftOut,
    members,
  };
  const manifestBytes = encoder.encode(`${JSON.stringify(manifest, null, 2)}\n`);
  const signature = encoder.encode(await src.sign(manifestBytes));

  const { readable, controller } = createTarPacker();
  const mtime = req.now ?? new Date();
  const entry = async (
    name: string,
    size: number,
    write: (w: WritableStreamDefaultWriter) => Promise<void>,
  ) => {
    const w = controller.add({ name, size, mtime, mode: 0o644 }).getWriter();
    await write(w);
    await w.close();
  };
  const whole = (bytes: Uint8Array) => async (w: WritableStreamDefaultWriter) => w.write(bytes);
  const pack = async () => {
    await entry(MANIFEST_MEMBER, manifestBytes.length, whole(manifestBytes));
    await entry(SIGNATURE_MEMBER, signature.length, whole(signature));
    for (const [i, m] of json.entries())
      await entry(m.name, members[i]!.size, async (w) => {
        let chunk = "";
        for (const line of m.lines()) {
          chunk += line;
          if (chunk.length >= CHUNK) {
            await w.write(encoder.encode(chunk));
            chunk = "";
          }
        }
        if (chunk) await w.write(encoder.encode(chunk));
      });
    for (const { ref, member } of carried)
      await entry(member.name, member.size, async (w) => {
        const file = await src.files!.open(ref.sha256);
        if (!file || file.size !== member.size)
          throw new Error(`artifact ${ref.sha256} changed while it was bundled`);
        const body = await file.read(0, file.size);
        const reader = (body instanceof Blob ? body.stream() : body).getReader();
        for (;;) {
          const { done, value } = await reader.read();
          if (done) break;
          await w.write(value);
        }
      });
    controller.finalize();
  };
  pack().catch((e: unknown) => controller.error(e));
  return { manifest, body: readable.pipeThrough(new CompressionStream("gzip")) };
}

/** Every event after `since` up to the head, in order; 410 when some were pruned. */
async function changesAfter(feed: FeedStore, since: number): Promise<{ items: ChangeEvent[]; head: number }> {
  const first = await feed.changes(since, 0);
  if (since > first.head)
    throw new ApiError(
      "conflict",
      `position ${since} is ahead of this control plane (head ${first.head}): the edge was fed by another one, or this database was restored; export a full snapshot`,
    );
  if (since + 1 < first.tail && since < first.head)
    throw new ApiError(
      "gone",
      `events after position ${since} have been pruned (oldest kept: ${first.tail}); export a full snapshot instead`,
    );
  const items: ChangeEvent[] = [];
  let after = since;
  while (after < first.head) {
    const page = await feed.changes(after, PAGE);
    const mine = page.events.filter((e) => e.position <= first.head);
    items.push(...mine);
    if (mine.length < page.events.length || page.events.length === 0) break;
    after = page.events.at(-1)!.position;
  }
  // Events carry no trace context across an air gap: nothing on the other side continues it.
  return { items: items.map(({ traceparent: _, ...e }) => e), head: first.head };
}
