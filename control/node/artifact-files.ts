/**
 * Uploaded artifacts on Node: files named by their SHA-256 in
 * `<CHAMICORE_DATA_DIR>/artifacts/`. An upload streams into a temporary
 * file beside them, hashed and counted on the way, and is renamed into
 * place (after fsync) only once it is exactly the registered size with the
 * registered digest; anything else is removed and refused. Reads stream
 * from disk: a 500 MB image is never in memory.
 *
 * Uploads in parts (functions/artifacts/multipart.ts) keep each part as a
 * file in `.incoming/<sha256>.<uploadId>/`, named `<n>.<etag>` (the etag is
 * the part's MD5), and are joined, hashed and checked the same way at
 * completion. A restart drops uploads in progress, as it drops whole ones.
 */
import { createHash, randomBytes } from "node:crypto";
import { createReadStream, mkdirSync, openAsBlob, rmSync } from "node:fs";
import { mkdir, open, readdir, rename, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import type {
  ArtifactFile,
  ArtifactMultipart,
  ArtifactUploads,
  UploadedPart,
} from "../../functions/artifacts/store";
import { ApiError } from "../../shared/problem";

/** Bytes per part: no request limit to stay under on Node; a part a client can resend cheaply. */
const PART_SIZE = 64 * 1024 ** 2;
const UPLOAD_ID = /^[0-9a-f]{32}$/;

export class DataDirArtifacts implements ArtifactUploads {
  private readonly incoming: string;
  readonly multipart: ArtifactMultipart;

  constructor(private readonly dir: string) {
    this.incoming = join(dir, ".incoming");
    // What a crash left mid-upload was never acknowledged: the client sends it again.
    // Created at the first upload: a control plane that never takes one leaves no directory.
    rmSync(this.incoming, { recursive: true, force: true });
    this.multipart = new DataDirMultipart(this.incoming, (sha256, size, body) =>
      this.put(sha256, size, body),
    );
  }

  private pathOf(sha256: string) {
    return join(this.dir, sha256);
  }

  async open(sha256: string): Promise<ArtifactFile | undefined> {
    const path = this.pathOf(sha256);
    const size = await stat(path).then(
      (s) => s.size,
      () => undefined,
    );
    if (size === undefined) return undefined;
    return { size, read: async (start, end) => (await openAsBlob(path)).slice(start, end) };
  }

  async put(sha256: string, size: number, body: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>) {
    mkdirSync(this.incoming, { recursive: true, mode: 0o700 });
    const temp = join(this.incoming, randomBytes(8).toString("hex"));
    await writeExactly(temp, body, size, "sha256", "the body", "the registered ", async (digest) => {
      if (digest !== sha256) throw mismatch(`the body's sha256 is ${digest}, not the registered ${sha256}`);
      await rename(temp, this.pathOf(sha256));
    });
  }

  async delete(sha256: string): Promise<void> {
    await rm(this.pathOf(sha256), { force: true });
  }
}

const mismatch = (message: string) =>
  new ApiError("validation", `Upload refused, nothing kept: ${message}`, {
    errors: [{ field: "body", message }],
  });

/**
 * Writes `body` to the new file `path`, hashed with `algorithm` and counted
 * on the way; exactly `size` bytes, else an ApiError (422). `keep` gets the
 * digest once the file is synced, and may refuse it; whatever fails, the
 * file is removed.
 */
async function writeExactly(
  path: string,
  body: AsyncIterable<Uint8Array> | ReadableStream<Uint8Array>,
  size: number,
  algorithm: string,
  what: string,
  registered: string,
  keep: (digest: string) => Promise<void>,
): Promise<void> {
  const file = await open(path, "wx", 0o600);
  const hash = createHash(algorithm);
  let bytes = 0;
  try {
    for await (const chunk of body as AsyncIterable<Uint8Array>) {
      bytes += chunk.byteLength;
      // Stop reading at the first byte too many: the rest of an oversized body is never written.
      if (bytes > size) throw mismatch(`${what} is longer than ${registered}${size} bytes`);
      hash.update(chunk);
      await file.write(chunk);
    }
    if (bytes !== size) throw mismatch(`${what} is ${bytes} bytes, not ${registered}${size}`);
    await file.sync();
    await file.close();
    await keep(hash.digest("hex"));
  } catch (e) {
    await file.close().catch(() => {});
    await rm(path, { force: true });
    throw e;
  }
}

class DataDirMultipart implements ArtifactMultipart {
  readonly partSize = PART_SIZE;

  constructor(
    private readonly incoming: string,
    private readonly put: (sha256: string, size: number, body: AsyncIterable<Uint8Array>) => Promise<void>,
  ) {}

  /** The upload's directory; 404 for an id this server did not give (or no longer has). */
  private async dirOf(sha256: string, uploadId: string): Promise<string> {
    const dir = join(this.incoming, `${sha256}.${uploadId}`);
    if (
      UPLOAD_ID.test(uploadId) &&
      (await stat(dir).then(
        (s) => s.isDirectory(),
        () => false,
      ))
    )
      return dir;
    throw new ApiError(
      "not-found",
      `no upload ${uploadId} for this artifact (finished, abandoned, or lost in a restart)`,
    );
  }

  async begin(sha256: string): Promise<string> {
    const uploadId = randomBytes(16).toString("hex");
    await mkdir(join(this.incoming, `${sha256}.${uploadId}`), { recursive: true, mode: 0o700 });
    return uploadId;
  }

  async putPart(
    sha256: string,
    uploadId: string,
    partNumber: number,
    length: number,
    body: ReadableStream<Uint8Array>,
  ): Promise<string> {
    const dir = await this.dirOf(sha256, uploadId);
    const temp = join(dir, `.${randomBytes(8).toString("hex")}`);
    let etag = "";
    await writeExactly(temp, body, length, "md5", `part ${partNumber}`, "", async (digest) => {
      etag = digest;
      // A part sent again replaces the one before.
      for (const old of await readdir(dir))
        if (old.startsWith(`${partNumber}.`)) await rm(join(dir, old), { force: true });
      await rename(temp, join(dir, `${partNumber}.${etag}`));
    });
    return etag;
  }

  async complete(sha256: string, size: number, uploadId: string, parts: UploadedPart[]): Promise<void> {
    const dir = await this.dirOf(sha256, uploadId);
    const have = new Set(await readdir(dir));
    const absent = parts.filter((p) => !have.has(`${p.partNumber}.${p.etag}`)).map((p) => p.partNumber);
    if (absent.length > 0)
      throw new ApiError(
        "validation",
        `part${absent.length > 1 ? "s" : ""} ${absent.slice(0, 10).join(", ")} not uploaded, or not with that etag`,
        { errors: [{ field: "parts", message: "every part must carry the etag its upload answered" }] },
      );
    async function* joined() {
      for (const p of parts) yield* createReadStream(join(dir, `${p.partNumber}.${p.etag}`));
    }
    try {
      await this.put(sha256, size, joined());
    } finally {
      // Checked or refused, the upload is over: a refused one starts again.
      await rm(dir, { recursive: true, force: true });
    }
  }

  async abort(sha256: string, uploadId: string): Promise<void> {
    if (UPLOAD_ID.test(uploadId))
      await rm(join(this.incoming, `${sha256}.${uploadId}`), { recursive: true, force: true });
  }
}
