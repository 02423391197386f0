/**
 * One attempt at fetching an artifact into its partial file: resumed with
 * `Range` from what the partial file already holds, hashed while it streams
 * (the bytes already on disk first), and checked against the size and
 * SHA-256 the boot parameters carry before the caller renames it into
 * place. Never throws: the outcome says whether to keep the partial file
 * (a cut connection: resume next time) or not (wrong bytes: start again).
 */
import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import { type FileHandle, open, stat, unlink } from "node:fs/promises";
import type { Throttle } from "./throttle";

export type DownloadOutcome =
  /** The partial file holds exactly the artifact, fsynced. */
  | { kind: "verified" }
  /** The origin sent other bytes (digest or size): the partial file is gone. */
  | { kind: "corrupt"; reason: string }
  /** Network, HTTP or disk trouble: the partial file is kept for resuming. */
  | { kind: "failed"; reason: string }
  /** Stopped (the edge stops, or nothing wants it any more): the partial file is kept. */
  | { kind: "aborted" };

export interface DownloadRequest {
  url: string;
  sha256: string;
  size: number;
  /** Where the bytes go while they come: partial/<sha256>. */
  partial: string;
  signal: AbortSignal;
  throttle?: Throttle;
  /** Seconds-scale guard against an origin that stops sending without closing: the attempt fails after this long with no byte. */
  idleMs: number;
  /** Bytes held so far (at the start: what the partial file had; then after every chunk). */
  progress(bytes: number): void;
  /** Bytes that came over the network in this attempt, for the metrics. */
  received(bytes: number): void;
}

const message = (e: unknown) =>
  e instanceof Error
    ? e.cause instanceof Error
      ? `${e.message}: ${e.cause.message}`
      : e.message
    : String(e);

export async function download(r: DownloadRequest): Promise<DownloadOutcome> {
  // Aborted by the caller's signal, or by the idle guard below.
  const attempt = new AbortController();
  const stop = () => attempt.abort(r.signal.reason);
  r.signal.addEventListener("abort", stop, { once: true });
  let idle: ReturnType<typeof setTimeout> | undefined;
  const touch = () => {
    clearTimeout(idle);
    idle = setTimeout(
      () => attempt.abort(new Error(`no data for ${Math.round(r.idleMs / 1000)} s`)),
      r.idleMs,
    );
  };
  let file: FileHandle | undefined;
  try {
    if (r.signal.aborted) return { kind: "aborted" };
    let have = await sizeOf(r.partial);
    if (have > r.size) {
      await unlink(r.partial);
      have = 0;
    }
    let hash = createHash("sha256");
    if (have > 0) await hashInto(hash, r.partial, have, attempt.signal);
    r.progress(have);
    let res: Response | undefined;
    if (have < r.size) {
      touch();
      res = await fetch(r.url, {
        signal: attempt.signal,
        redirect: "follow",
        // Identity: the digest is of the bytes themselves, and ranges of an encoded body mean something else.
        headers: { "Accept-Encoding": "identity", ...(have > 0 ? { Range: `bytes=${have}-` } : {}) },
      });
      if (res.status === 206) {
        const range = /^bytes (\d+)-\d+\/(\d+|\*)$/.exec(res.headers.get("Content-Range") ?? "");
        if (range?.[2] !== undefined && range[2] !== "*" && Number(range[2]) !== r.size) {
          await res.body?.cancel();
          await unlink(r.partial).catch(() => {});
          return { kind: "corrupt", reason: `the origin holds ${range[2]} bytes, not ${r.size}` };
        }
        if (Number(range?.[1]) !== have) {
          await res.body?.cancel();
          await unlink(r.partial).catch(() => {});
          return {
            kind: "failed",
            reason: `asked for bytes from ${have}, got ${res.headers.get("Content-Range")}`,
          };
        }
      } else if (res.status === 200) {
        // The origin ignores ranges (or the partial file was empty): from the start.
        have = 0;
        hash = createHash("sha256");
        r.progress(0);
        const length = res.headers.get("Content-Length");
        if (length !== null && Number(length) !== r.size) {
          await res.body?.cancel();
          await unlink(r.partial).catch(() => {});
          return { kind: "corrupt", reason: `the origin sends ${length} bytes, not ${r.size}` };
        }
      } else if (res.status === 416) {
        await res.body?.cancel();
        await unlink(r.partial).catch(() => {});
        return {
          kind: "corrupt",
          reason: `the origin has no byte ${have} (${res.headers.get("Content-Range") ?? "416"})`,
        };
      } else {
        await res.body?.cancel();
        return { kind: "failed", reason: `HTTP ${res.status} from ${r.url}` };
      }
    }
    file = await open(r.partial, have > 0 ? "r+" : "w");
    let at = have;
    if (res?.body) {
      const reader = res.body.getReader();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        touch();
        if (at + value.byteLength > r.size) {
          await reader.cancel();
          await file.close();
          file = undefined;
          await unlink(r.partial).catch(() => {});
          return { kind: "corrupt", reason: `the origin sent more than ${r.size} bytes` };
        }
        r.received(value.byteLength);
        hash.update(value);
        await file.write(value, 0, value.byteLength, at);
        at += value.byteLength;
        r.progress(at);
        // Waiting for the cap is not the origin's silence: the idle guard sleeps meanwhile.
        clearTimeout(idle);
        await r.throttle?.take(value.byteLength, attempt.signal);
        touch();
      }
    }
    clearTimeout(idle);
    if (at < r.size) return { kind: "failed", reason: `the answer ended after ${at} of ${r.size} bytes` };
    const digest = hash.digest("hex");
    if (digest !== r.sha256) {
      await file.close();
      file = undefined;
      await unlink(r.partial).catch(() => {});
      return { kind: "corrupt", reason: `sha256 ${digest}, not ${r.sha256}` };
    }
    // Durable before the rename makes it servable: a power cut must not leave a verified name on a hole.
    await file.sync();
    return { kind: "verified" };
  } catch (e) {
    if (r.signal.aborted) return { kind: "aborted" };
    return { kind: "failed", reason: attempt.signal.aborted ? message(attempt.signal.reason) : message(e) };
  } finally {
    clearTimeout(idle);
    r.signal.removeEventListener("abort", stop);
    await file?.close().catch(() => {});
  }
}

/** SHA-256 of a whole file, streamed (start-up verification). */
export async function hashFile(
  path: string,
  signal?: AbortSignal,
): Promise<{ sha256: string; size: number }> {
  const hash = createHash("sha256");
  const size = await hashInto(hash, path, Number.POSITIVE_INFINITY, signal);
  return { sha256: hash.digest("hex"), size };
}

/** Feeds the first `length` bytes of `path` into `hash`; returns how many it read. */
async function hashInto(hash: Hash, path: string, length: number, signal?: AbortSignal): Promise<number> {
  let n = 0;
  const stream = createReadStream(path, Number.isFinite(length) ? { end: length - 1, signal } : { signal });
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash.update(chunk);
    n += chunk.byteLength;
  }
  return n;
}

async function sizeOf(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return 0;
    throw e;
  }
}
