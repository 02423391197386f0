/**
 * The artifact ports. Metadata lives with the rest of the control plane's
 * data (`ArtifactStore`, control/stores/artifacts.ts); bytes live where the
 * runtime can stream them (`ArtifactFiles`): files in the data directory on
 * Node, an R2 bucket on Workers, the verified cache on an edge. The content
 * route (./content.ts) reads only `ArtifactFiles`, so the control plane and
 * the edge answer nodes with one handler.
 */
import type { Stored } from "../../shared/envelope";
import type { ListQuery } from "../../shared/list-query";
import type { Page } from "../inventory/store";
import type { Artifact, ArtifactRef } from "./schemas";

export interface ArtifactStore {
  list(q: ListQuery): Promise<Page<Artifact>>;
  /** By name, or by sha256 when `key` is 64 hex digits. */
  get(key: string): Promise<Stored<Artifact> | undefined>;
  /** 409 when the name or the digest is taken. */
  create(a: Artifact): Promise<Stored<Artifact>>;
  /** Marks the content of `name` as held by the control plane. */
  markStored(name: string): Promise<Stored<Artifact>>;
  /** 409 naming the boot parameters that still use it; 404 when absent. Returns what was deleted. */
  delete(key: string): Promise<Stored<Artifact>>;
}

/** Bytes [start, end) of a stored artifact, as a body a Response can stream. */
export interface ArtifactFile {
  size: number;
  read(start: number, end: number): Promise<ReadableStream<Uint8Array> | Blob>;
}

/** Where a runtime reads artifact bytes from. */
export interface ArtifactFiles {
  open(sha256: string): Promise<ArtifactFile | undefined>;
}

/** Where the control plane keeps uploaded bytes. */
export interface ArtifactUploads extends ArtifactFiles {
  /**
   * Stores `body` as `sha256`, verified while it streams: exactly `size`
   * bytes with that digest, or an ApiError (422) and nothing kept. Never
   * holds the whole body in memory.
   */
  put(sha256: string, size: number, body: ReadableStream<Uint8Array>): Promise<void>;
  delete(sha256: string): Promise<void>;
  /** Uploads in parts (./multipart.ts); unset where only whole uploads are taken. */
  multipart?: ArtifactMultipart;
}

/** One uploaded part, as the client names it at completion. */
export interface UploadedPart {
  partNumber: number;
  /** What `putPart` answered for it. */
  etag: string;
}

/**
 * An upload in parts, for content larger than one request may carry
 * (Workers: 100 MB on most plans). Parts are `partSize` bytes, the last one
 * the rest; they may come in any order and be sent again. Nothing is
 * served before `complete` has checked the whole content's size and digest.
 */
export interface ArtifactMultipart {
  /** Bytes in every part but the last. */
  readonly partSize: number;
  /** Starts an upload of `size` bytes meant to have digest `sha256`; its id. 422 when the store cannot take that size in parts. */
  begin(sha256: string, size: number): Promise<string>;
  /**
   * Stores part `partNumber` (1-based): exactly `length` bytes, or an
   * ApiError (422) and the part not kept. 404 for an unknown upload. Returns
   * the part's etag.
   */
  putPart(
    sha256: string,
    uploadId: string,
    partNumber: number,
    length: number,
    body: ReadableStream<Uint8Array>,
  ): Promise<string>;
  /**
   * Assembles `parts` (every part, in order) and verifies the result is
   * `size` bytes with digest `sha256`; otherwise an ApiError (422) and
   * nothing kept. 404 for an unknown upload.
   */
  complete(sha256: string, size: number, uploadId: string, parts: UploadedPart[]): Promise<void>;
  /** Drops the upload and its parts; unknown ids are ignored. */
  abort(sha256: string, uploadId: string): Promise<void>;
}

/** What a server that answers nodes knows about artifacts (AppDeps.artifacts). */
export interface ArtifactServing {
  files: ArtifactFiles | ArtifactUploads;
  /**
   * Where a boot script sends a node for `ref`, given this server's base
   * URL. Unset: this server's own content route (the control plane, which
   * redirects to the origin what it does not hold). An edge names its own
   * copy once cached, the origin until then.
   */
  urlFor?(ref: ArtifactRef, base: string): string;
  /** Where the content of `sha256` lives when this server does not hold it (a redirect), if known. */
  origin?(sha256: string): string | undefined;
}
