/**
 * Reads an air-gap bundle (functions/bundles/format.ts) into a staging
 * directory, checking everything before the replica is touched:
 *
 * - the manifest's signature by a trusted key, before any other member is
 *   read (a bundle from an unknown key costs two small reads);
 * - every member against the manifest, in its order: its name (so no path
 *   from the tar is ever used: a staged member is named by its index), its
 *   type (a plain file), its size (reading stops one byte past it: a member
 *   that decompresses to more than the manifest says is refused there, so a
 *   decompression bomb never fills the disk) and its SHA-256;
 * - nothing missing, nothing added, and the whole stream well formed (a
 *   truncated file fails the gzip or the tar).
 *
 * Any of those refuses the bundle with `BundleRefused`, saying exactly why.
 */
import { createHash } from "node:crypto";
import { openAsBlob } from "node:fs";
import { mkdir, open, rm } from "node:fs/promises";
import { join } from "node:path";
import { base64url, compactVerify, decodeProtectedHeader } from "jose";
import { createTarDecoder } from "modern-tar";
import {
  type BundleManifest,
  BundleManifestSchema,
  MANIFEST_MEMBER,
  MAX_MANIFEST_BYTES,
  SIGNATURE_MEMBER,
  SIGNATURE_TYPE,
} from "../../functions/bundles/format";
import type { TrustedKey } from "./trust";

export class BundleRefused extends Error {}

export interface StagedBundle {
  manifest: BundleManifest;
  /** The key that signed it. */
  signedBy: string;
  /** Member name → its staged file. */
  files: Map<string, string>;
}

/** Tar headers, padding and end blocks per entry, generously. */
const TAR_OVERHEAD_PER_ENTRY = 3 * 1024;
const TAR_TAIL = 20 * 1024;

/** Reads `path` into `stagingDir` (emptied first); the caller removes it when done. */
export async function readBundle(
  path: string,
  trusted: TrustedKey[],
  stagingDir: string,
): Promise<StagedBundle> {
  await rm(stagingDir, { recursive: true, force: true });
  await mkdir(stagingDir, { recursive: true });
  let blob: Blob;
  try {
    blob = await openAsBlob(path);
  } catch (e) {
    throw new BundleRefused(`cannot read ${path}: ${(e as Error).message}`);
  }
  // Until the manifest is read, only it and its signature may come; then what it lists.
  let allowed = 2 * (MAX_MANIFEST_BYTES + TAR_OVERHEAD_PER_ENTRY) + TAR_TAIL;
  let seen = 0;
  const bounded = new TransformStream<Uint8Array, Uint8Array>({
    transform(chunk, controller) {
      seen += chunk.length;
      if (seen > allowed)
        throw new BundleRefused(
          `the bundle decompresses to more than its manifest accounts for (over ${allowed} bytes): refused as a decompression bomb`,
        );
      controller.enqueue(chunk);
    },
  });
  const entries = blob
    .stream()
    .pipeThrough(new DecompressionStream("gzip"))
    .pipeThrough(bounded)
    .pipeThrough(createTarDecoder({ strict: true }))
    .getReader();

  let manifestBytes: Uint8Array | undefined;
  let manifest: BundleManifest | undefined;
  let signedBy = "";
  const files = new Map<string, string>();
  let index = 0;
  try {
    for (; ; index++) {
      const { done, value: entry } = await entries.read();
      if (done) break;
      const { name, type, size } = entry.header;
      if (type !== "file" && type !== undefined)
        throw new BundleRefused(
          `entry ${index} ('${name}') is a ${type}, not a file: bundles hold files only`,
        );
      if (index === 0 || index === 1) {
        const want = index === 0 ? MANIFEST_MEMBER : SIGNATURE_MEMBER;
        if (name !== want)
          throw new BundleRefused(
            `entry ${index} is '${name}'; a bundle starts with ${MANIFEST_MEMBER} then ${SIGNATURE_MEMBER}`,
          );
        const bytes = await readSmall(entry.body, MAX_MANIFEST_BYTES, name);
        if (index === 0) manifestBytes = bytes;
        else {
          signedBy = await verify(manifestBytes!, new TextDecoder().decode(bytes), trusted);
          manifest = parseManifest(manifestBytes!);
          allowed =
            seen + manifest.members.reduce((n, m) => n + m.size + TAR_OVERHEAD_PER_ENTRY, 0) + TAR_TAIL;
        }
        continue;
      }
      const member = manifest!.members[index - 2];
      if (!member)
        throw new BundleRefused(
          `entry '${name}' is not in the manifest (it lists ${manifest!.members.length} members)`,
        );
      if (name !== member.name)
        throw new BundleRefused(
          manifest!.members.some((m) => m.name === name)
            ? `entry '${name}' is out of the manifest's order (expected '${member.name}')`
            : `entry '${name}' is not in the manifest (expected '${member.name}')`,
        );
      if (size !== member.size)
        throw new BundleRefused(
          `member '${name}' is ${size} bytes in the tar, ${member.size} in the manifest`,
        );
      const staged = join(stagingDir, String(index));
      await stage(entry.body, staged, member);
      files.set(name, staged);
    }
  } catch (e) {
    await entries.cancel().catch(() => {});
    if (e instanceof BundleRefused) throw e;
    throw new BundleRefused(`the bundle is truncated or damaged: ${(e as Error).message}`);
  }
  if (!manifest)
    throw new BundleRefused(`not a bundle: no ${index === 0 ? MANIFEST_MEMBER : SIGNATURE_MEMBER}`);
  const missing = manifest.members.filter((m) => !files.has(m.name));
  if (missing.length > 0)
    throw new BundleRefused(
      `member${missing.length > 1 ? "s" : ""} ${missing.map((m) => `'${m.name}'`).join(", ")} listed in the manifest ${missing.length > 1 ? "are" : "is"} missing`,
    );
  return { manifest, signedBy, files };
}

async function readSmall(body: ReadableStream<Uint8Array>, max: number, name: string): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let n = 0;
  for await (const c of body) {
    n += c.length;
    if (n > max) throw new BundleRefused(`${name} is over ${max} bytes: not a bundle's`);
    chunks.push(c);
  }
  const out = new Uint8Array(n);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.length;
  }
  return out;
}

/** The kid of the trusted key whose signature `sig` is over `manifest`; refuses otherwise. */
async function verify(manifest: Uint8Array, sig: string, trusted: TrustedKey[]): Promise<string> {
  const [header, empty, signature] = sig.trim().split(".");
  if (header === undefined || empty !== "" || signature === undefined)
    throw new BundleRefused(`${SIGNATURE_MEMBER} is not a detached JWS`);
  let h: ReturnType<typeof decodeProtectedHeader>;
  try {
    h = decodeProtectedHeader(sig.trim());
  } catch {
    throw new BundleRefused(`${SIGNATURE_MEMBER} is not a detached JWS`);
  }
  if (h.typ !== SIGNATURE_TYPE)
    throw new BundleRefused(`${SIGNATURE_MEMBER} is a '${String(h.typ)}' signature, not a bundle manifest's`);
  const kid = typeof h.kid === "string" ? h.kid : undefined;
  const candidates = trusted.filter((k) => k.alg === h.alg && (k.kid === undefined || k.kid === kid));
  const jws = `${header}.${base64url.encode(manifest)}.${signature}`;
  for (const k of candidates)
    try {
      await compactVerify(jws, k.key, { algorithms: [k.alg] });
      return kid ?? k.from;
    } catch {
      // Not this one: a PEM key is tried for every kid.
    }
  throw new BundleRefused(
    `the manifest is not signed by a trusted key (signed by ${kid ?? "a key without an id"}; ${trusted.length} key(s) trusted in CHAMICORE_EDGE_TRUSTED_KEYS): a bundle from another control plane, or altered`,
  );
}

function parseManifest(bytes: Uint8Array): BundleManifest {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder().decode(bytes));
  } catch (e) {
    throw new BundleRefused(`${MANIFEST_MEMBER} is not JSON: ${(e as Error).message}`);
  }
  const parsed = BundleManifestSchema.safeParse(doc);
  if (!parsed.success)
    throw new BundleRefused(
      `${MANIFEST_MEMBER} is not a manifest this edge reads: ${parsed.error.issues.map((i) => `${i.path.join(".") || "(top)"}: ${i.message}`).join("; ")}`,
    );
  return parsed.data;
}

/** Writes a member's body to `file`, refusing it past its size or at a wrong digest. */
async function stage(
  body: ReadableStream<Uint8Array>,
  file: string,
  member: { name: string; size: number; sha256: string },
) {
  const hash = createHash("sha256");
  const out = await open(file, "w");
  let n = 0;
  try {
    for await (const chunk of body) {
      n += chunk.length;
      if (n > member.size)
        throw new BundleRefused(
          `member '${member.name}' is longer than the ${member.size} bytes its manifest gives: refused as a decompression bomb`,
        );
      hash.update(chunk);
      await out.write(chunk);
    }
    await out.sync();
  } finally {
    await out.close();
  }
  if (n !== member.size)
    throw new BundleRefused(
      `member '${member.name}' is ${n} bytes, its manifest says ${member.size}: truncated`,
    );
  const digest = hash.digest("hex");
  if (digest !== member.sha256)
    throw new BundleRefused(
      `member '${member.name}' does not match its SHA-256 in the manifest (a flipped byte?)`,
    );
}
