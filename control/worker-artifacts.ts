/**
 * Uploaded artifacts on Workers: objects named `artifacts/<sha256>` in the
 * R2 bucket bound as `ARTIFACTS` (wrangler.toml `[[r2_buckets]]`).
 *
 * A whole upload streams straight into R2, never through memory: the body
 * is counted on the way into a `FixedLengthStream` of the registered size
 * (R2 needs the length up front, and the stream fails a body of any other
 * length), and R2 checks the registered SHA-256 itself (`put`'s `sha256`
 * option), refusing the object on a mismatch. A put is atomic: a refused
 * one leaves nothing, and does not disturb an object already there.
 *
 * Content too large for one request comes in parts (R2's multipart
 * upload), each streamed the same way at its exact length. R2 checks no
 * digest of an assembled object, so completion reads it back through
 * `crypto.DigestStream`, deletes it on a mismatch, and otherwise writes a
 * marker `verified/<sha256>` naming the checked object's etag: an object
 * assembled from parts is served only while a marker names it, so bytes
 * being checked, or put there by a later upload racing this one, never are.
 * (One written whole carries R2's own checked SHA-256.)
 */
import { z } from "zod";
import type {
  ArtifactFile,
  ArtifactMultipart,
  ArtifactUploads,
  UploadedPart,
} from "../functions/artifacts/store";
import { ApiError } from "../shared/problem";

/** What this module uses of an R2 object's metadata. */
export interface R2ObjectLike {
  size: number;
  etag: string;
  checksums: { sha256?: ArrayBuffer };
  customMetadata?: Record<string, string>;
}

/** The part of workerd's `R2Bucket` used here (no @cloudflare/workers-types in this repo). */
export interface R2BucketLike {
  head(key: string): Promise<R2ObjectLike | null>;
  get(
    key: string,
    options?: { range?: { offset: number; length: number } },
  ): Promise<(R2ObjectLike & { body: ReadableStream<Uint8Array> }) | null>;
  put(
    key: string,
    value: ReadableStream<Uint8Array> | string | null,
    options?: { sha256?: string; customMetadata?: Record<string, string> },
  ): Promise<R2ObjectLike | null>;
  delete(keys: string | string[]): Promise<void>;
  createMultipartUpload(key: string): Promise<R2MultipartUploadLike & { uploadId: string }>;
  resumeMultipartUpload(key: string, uploadId: string): R2MultipartUploadLike;
}

/** workerd's `R2MultipartUpload`, as used here. */
export interface R2MultipartUploadLike {
  uploadPart(partNumber: number, value: ReadableStream<Uint8Array>): Promise<UploadedPart>;
  complete(parts: UploadedPart[]): Promise<R2ObjectLike>;
  abort(): Promise<void>;
}

/** workerd's `FixedLengthStream`: an identity stream whose readable side has a known length. */
type FixedLengthStreamCtor = new (length: number) => TransformStream<Uint8Array, Uint8Array>;
/** workerd's `crypto.DigestStream`: a sink that hashes what is written to it. */
type DigestStreamCtor = new (
  algorithm: string,
) => WritableStream<Uint8Array> & { digest: Promise<ArrayBuffer> };

function workerdGlobal<T>(name: string, of: object = globalThis): T {
  const v = (of as Record<string, unknown>)[name];
  if (!v) throw new Error(`${name} is missing: R2Artifacts runs in workerd only`);
  return v as T;
}

/**
 * The largest object one `put` stores (R2: 5 GiB less 5 MiB). Workers take
 * far smaller request bodies anyway (100 MB on most plans): see
 * docs/workers.md for what to do past that.
 */
export const R2_MAX_PUT = 5 * 1024 ** 3 - 5 * 1024 ** 2;

export const keyOf = (sha256: string) => `artifacts/${sha256}`;
/** Written once an object assembled from parts has been checked; its `etag` metadata names that object. */
const markerOf = (sha256: string) => `verified/${sha256}`;
/** 64 MiB: under the 100 MB a Worker takes per request, and 10,000 parts cover the largest artifact. */
export const DEFAULT_PART_SIZE = 64 * 1024 ** 2;
/** R2 refuses smaller parts (but the last). */
export const MIN_PART_SIZE = 5 * 1024 ** 2;

const hex = (b: ArrayBuffer) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, "0")).join("");

/** The Worker's artifact settings (parsed with control/config.ts `parseEnv`). */
export const ArtifactsEnvSchema = z.object({
  /** Bytes per part of an upload in parts: R2 takes 5 MiB at least; keep it under the plan's request limit. */
  CHAMICORE_ARTIFACT_PART_SIZE: z.coerce
    .number()
    .int()
    .min(MIN_PART_SIZE)
    .max(R2_MAX_PUT)
    .default(DEFAULT_PART_SIZE),
});

export class R2Artifacts implements ArtifactUploads {
  readonly multipart: ArtifactMultipart;

  constructor(
    private readonly bucket: R2BucketLike,
    opts: { partSize?: number } = {},
  ) {
    this.multipart = new R2Multipart(bucket, opts.partSize ?? DEFAULT_PART_SIZE, (sha256) =>
      this.open(sha256),
    );
  }

  async open(sha256: string): Promise<ArtifactFile | undefined> {
    const key = keyOf(sha256);
    const head = await this.bucket.head(key);
    if (!head) return undefined;
    const checked =
      (head.checksums.sha256 !== undefined && hex(head.checksums.sha256) === sha256) ||
      (await this.bucket.head(markerOf(sha256)))?.customMetadata?.etag === head.etag;
    if (!checked) return undefined;
    return {
      size: head.size,
      read: async (start, end) => {
        // R2 refuses an empty range; an empty artifact (or range) is an empty body.
        if (end <= start) return new Blob([]);
        const obj = await this.bucket.get(key, { range: { offset: start, length: end - start } });
        if (!obj) throw new ApiError("not-found", `artifact ${sha256} was deleted while being read`);
        return obj.body;
      },
    };
  }

  async put(sha256: string, size: number, body: ReadableStream<Uint8Array>): Promise<void> {
    if (size > R2_MAX_PUT) {
      await body.cancel().catch(() => {});
      throw new ApiError(
        "payload-too-large",
        `artifact is ${size} bytes; one upload to R2 takes at most ${R2_MAX_PUT}: upload it in parts (POST …/uploads)`,
      );
    }
    try {
      await streamExactly(body, size, "the body", "the registered ", (readable) =>
        this.bucket.put(keyOf(sha256), readable, { sha256 }),
      );
    } catch (e) {
      if (/checksum|digest/i.test(messageOf(e)))
        throw mismatch(`the body's sha256 is not the registered ${sha256}`);
      throw e;
    }
  }

  async delete(sha256: string): Promise<void> {
    await this.bucket.delete([keyOf(sha256), markerOf(sha256)]);
  }
}

class R2Multipart implements ArtifactMultipart {
  constructor(
    private readonly bucket: R2BucketLike,
    readonly partSize: number,
    private readonly open: (sha256: string) => Promise<ArtifactFile | undefined>,
  ) {}

  async begin(sha256: string): Promise<string> {
    return (await this.bucket.createMultipartUpload(keyOf(sha256))).uploadId;
  }

  async putPart(
    sha256: string,
    uploadId: string,
    partNumber: number,
    length: number,
    body: ReadableStream<Uint8Array>,
  ): Promise<string> {
    const upload = this.bucket.resumeMultipartUpload(keyOf(sha256), uploadId);
    const part = await streamExactly(body, length, `part ${partNumber}`, "", (readable) =>
      upload.uploadPart(partNumber, readable),
    ).catch((e) => {
      throw uploadError(e, uploadId);
    });
    return part.etag;
  }

  async complete(sha256: string, size: number, uploadId: string, parts: UploadedPart[]): Promise<void> {
    const key = keyOf(sha256);
    const upload = this.bucket.resumeMultipartUpload(key, uploadId);
    // Checked content is already there: assembling would replace it with unchecked bytes.
    if (await this.open(sha256)) {
      await upload.abort().catch(() => {});
      return;
    }
    const { etag } = await upload.complete(parts).catch((e) => {
      throw uploadError(e, uploadId);
    });
    const problem = await this.check(key, sha256, size, etag).catch(async (e) => {
      await this.dropIf(key, etag);
      throw e;
    });
    if (problem) {
      await this.dropIf(key, etag);
      throw mismatch(problem);
    }
    await this.bucket.put(markerOf(sha256), "", { customMetadata: { etag } });
  }

  /** Deletes `key` if it is still the object `etag` (not one another upload put there since). */
  private async dropIf(key: string, etag: string) {
    if ((await this.bucket.head(key))?.etag === etag) await this.bucket.delete(key);
  }

  /** Why the object `etag` assembled at `key` is not the registered content, if it is not. */
  private async check(key: string, sha256: string, size: number, etag: string): Promise<string | undefined> {
    const obj = await this.bucket.get(key);
    if (!obj) return "the assembled object is gone (deleted meanwhile)";
    if (obj.etag !== etag) {
      await obj.body.cancel();
      throw new ApiError(
        "conflict",
        "another upload of this artifact finished meanwhile: see whether the artifact is now stored",
      );
    }
    if (obj.size !== size) {
      await obj.body.cancel();
      return `the parts add up to ${obj.size} bytes, not the registered ${size}`;
    }
    const Digest = workerdGlobal<DigestStreamCtor>("DigestStream", globalThis.crypto);
    const hashing = new Digest("SHA-256");
    await obj.body.pipeTo(hashing);
    const digest = hex(await hashing.digest);
    if (digest !== sha256) return `the assembled content's sha256 is ${digest}, not the registered ${sha256}`;
    return undefined;
  }

  async abort(sha256: string, uploadId: string): Promise<void> {
    await this.bucket
      .resumeMultipartUpload(keyOf(sha256), uploadId)
      .abort()
      .catch((e) => {
        if (!NO_SUCH_UPLOAD.test(messageOf(e))) throw e;
      });
  }
}

/**
 * Streams `body` into `sink` through a `FixedLengthStream` of `length`:
 * R2 needs the length before the first byte, and a body of any other
 * length fails the stream, so R2 stores nothing. Counted on the way, so the
 * client is told which way it was wrong (`what` is too long, or is n bytes,
 * not `registered` + length).
 */
async function streamExactly<T>(
  body: ReadableStream<Uint8Array>,
  length: number,
  what: string,
  registered: string,
  sink: (readable: ReadableStream<Uint8Array>) => Promise<T>,
): Promise<T> {
  const fixed = new (workerdGlobal<FixedLengthStreamCtor>("FixedLengthStream"))(length);
  const writer = fixed.writable.getWriter();
  // Set when the body is the wrong length: the reason the client is told.
  let wrongLength: string | undefined;
  const feed = async () => {
    const reader = body.getReader();
    let bytes = 0;
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        bytes += value.byteLength;
        // Stop at the first byte too many: the rest of an oversized body never reaches R2.
        if (bytes > length) wrongLength = `${what} is longer than ${registered}${length} bytes`;
        if (wrongLength) throw new Error(wrongLength);
        await writer.write(value);
      }
      if (bytes !== length) wrongLength = `${what} is ${bytes} bytes, not ${registered}${length}`;
      if (wrongLength) throw new Error(wrongLength);
      await writer.close();
    } catch (e) {
      // Failing the writable side fails R2's read of the readable side: nothing is stored.
      await writer.abort(e).catch(() => {});
      await reader.cancel(e).catch(() => {});
      throw e;
    }
  };
  const storing = sink(fixed.readable);
  // R2 giving up (a digest mismatch is only known at the end) must not leave the feed waiting.
  storing.catch((e) => writer.abort(e).catch(() => {}));
  const [fed, stored] = await Promise.allSettled([feed(), storing]);
  if (wrongLength) throw mismatch(wrongLength);
  // A client that went away shows in both; R2's reason says what R2 refused.
  if (stored.status === "rejected") throw stored.reason;
  if (fed.status === "rejected") throw fed.reason;
  return stored.value;
}

const NO_SUCH_UPLOAD = /multipart upload does not exist|NoSuchUpload/i;
const INVALID_PART = /parts could not be found|InvalidPart/i;

const messageOf = (e: unknown) => String((e as { message?: unknown })?.message ?? e);

/** R2's refusals of an upload in parts, as the client's problem. */
function uploadError(e: unknown, uploadId: string): unknown {
  if (e instanceof ApiError) return e;
  const m = messageOf(e);
  if (NO_SUCH_UPLOAD.test(m))
    return new ApiError(
      "not-found",
      `no upload ${uploadId} for this artifact (finished, abandoned or expired)`,
    );
  if (INVALID_PART.test(m))
    return new ApiError("validation", "a part named is not uploaded, or not with that etag", {
      errors: [{ field: "parts", message: "every part must carry the etag its upload answered" }],
    });
  return e;
}

const mismatch = (message: string) =>
  new ApiError("validation", `Upload refused, nothing kept: ${message}`, {
    errors: [{ field: "body", message }],
  });
