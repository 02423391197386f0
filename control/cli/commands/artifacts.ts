/**
 * `chamicore bss artifacts`: the kernels, initrds, images and iPXE binaries
 * nodes boot from (/boot/v1/artifacts). `list`, `get` and `delete` are the
 * usual verbs (resource.ts); `add` registers content that stays on a web
 * server, and `upload` hashes a local file, registers it and streams it to
 * the control plane. Files are read as streams, never whole: disk images
 * run to gigabytes.
 */
import { createHash } from "node:crypto";
import { createReadStream, statSync } from "node:fs";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { constants } from "node:os";
import { basename } from "node:path";
import type { Argv } from "yargs";
import { ApiProblem, type Schemas, unwrap } from "../../../shared/client";
import { type Cli, type GlobalOptions, run } from "../../../shared/node/cli/app";
import { CliError, EXIT } from "../../../shared/node/cli/errors";
import type { Column } from "../../../shared/node/cli/output";
import type { Session } from "../../../shared/node/cli/session";
import { abortableSleep } from "../../../shared/sleeper";
import { col, filter, sortFilter } from "../groups";
import { resourceCommand } from "../resource";

type Artifact = Schemas["ArtifactSpec"];
type Kind = Artifact["kind"];

const PATH = "/boot/v1/artifacts";
/** Every kind the API takes: one it drops fails `satisfies`, one it adds fails `KindsComplete`. */
const KINDS = ["kernel", "initrd", "image", "ipxe"] as const satisfies readonly Kind[];
type NoneLeft<T extends never> = T;
export type KindsComplete = NoneLeft<Exclude<Kind, (typeof KINDS)[number]>>;

// ---------- what tables show ----------

/** 1536 → "1.5 KiB": sizes and rates as a person reads them. */
export function humanBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = n;
  let i = 0;
  for (; v >= 1024 && i < units.length - 1; i++) v /= 1024;
  return i === 0 ? `${n} B` : `${v.toFixed(1)} ${units[i]}`;
}

/** Where nodes get the bytes from. */
const source = (s: Record<string, unknown>) =>
  s.url ? "url" : s.stored ? "uploaded" : s.stored === false ? "pending upload" : "";

const columns: Column[] = [
  col("NAME", "name"),
  col("KIND", "kind"),
  col("SIZE", (s) => (typeof s.size === "number" ? humanBytes(s.size) : "")),
  col("SHA256", (s) => (typeof s.sha256 === "string" ? s.sha256.slice(0, 12) : "")),
  col("SOURCE", source),
  col("LABELS", (s) =>
    Object.entries((s.labels as Record<string, string> | undefined) ?? {}).map(([k, v]) => `${k}=${v}`),
  ),
];

// ---------- flags ----------

/** `--label k=v` (repeatable) as the API's labels. */
function labelsOf(values: unknown): Record<string, string> | undefined {
  if (values === undefined) return undefined;
  const out: Record<string, string> = {};
  for (const pair of (values as unknown[]).map(String)) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new CliError(EXIT.usage, `--label takes key=value, not '${pair}'`);
    out[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return out;
}

const kindOption = {
  type: "string",
  choices: KINDS,
  demandOption: true,
  describe: "what it is: kernel, initrd, image (a disk or root image) or ipxe (an iPXE binary)",
} as const;
const labelOption = {
  type: "string",
  array: true,
  describe: "a label key=value (repeatable), e.g. --label os=rocky9",
} as const;

// ---------- progress ----------

/**
 * Bytes done of a total, on stderr: rewritten in place on a terminal (at
 * most ten times a second, with the rate), nothing in a pipe, where only
 * the final line the command prints is wanted.
 */
function progress(cli: Cli, verb: string, name: string, total: number) {
  const tty = cli.io.stderr.isTTY === true;
  const started = performance.now();
  let shown = -Infinity;
  let done = 0;
  const seconds = () => (performance.now() - started) / 1000;
  const rate = () => `${humanBytes(done / Math.max(seconds(), 0.001))}/s`;
  const draw = () => {
    shown = performance.now();
    const pct = total > 0 ? Math.floor((done / total) * 100) : 100;
    cli.io.stderr.write(
      `\r${verb} ${name}: ${humanBytes(done)} / ${humanBytes(total)} (${pct}%) ${rate()}\x1b[K`,
    );
  };
  if (tty) draw();
  return {
    /** Counts `n` more bytes (fewer, for bytes to be sent again). */
    add(n: number) {
      done += n;
      if (tty && performance.now() - shown >= 100) draw();
    },
    /** A line of its own (a retry, say), the progress redrawn under it. */
    note(text: string) {
      cli.io.stderr.write(tty ? `\r${text}\x1b[K\n` : `${text}\n`);
      if (tty) draw();
    },
    /** Ends the line being rewritten; returns "N bytes in S s (R/s)" for the final line. */
    end(): string {
      if (tty) {
        draw();
        cli.io.stderr.write("\n");
      }
      return `${humanBytes(done)} in ${seconds().toFixed(1)} s (${rate()})`;
    },
  };
}

// ---------- upload ----------

/** The file's size, or a usage error saying why it cannot be read. */
function fileSize(file: string): number {
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new Error("not a regular file");
    return st.size;
  } catch (e) {
    throw new CliError(EXIT.usage, `cannot read ${file}: ${(e as Error).message}`);
  }
}

const CHUNK = 1024 * 1024;

/** SHA-256 and size of a file, read as a stream. */
async function hashFile(cli: Cli, file: string, name: string, size: number) {
  const hash = createHash("sha256");
  const shown = progress(cli, "hashing", name, size);
  let read = 0;
  try {
    for await (const chunk of createReadStream(file, { highWaterMark: CHUNK })) {
      hash.update(chunk as Buffer);
      read += (chunk as Buffer).length;
      shown.add((chunk as Buffer).length);
    }
  } catch (e) {
    throw new CliError(EXIT.usage, `cannot read ${file}: ${(e as Error).message}`);
  } finally {
    // Also on failure: the error goes on a line of its own.
    shown.end();
  }
  return { sha256: hash.digest("hex"), size: read };
}

/** The artifact registered under `name` (the API's document), if any. */
async function existing(session: Session, name: string, named: boolean) {
  const r = await session.client.GET("/boot/v1/artifacts/{key}", { params: { path: { key: name } } });
  if (r.response.status === 404) return undefined;
  if (!named && (r.response.status === 400 || r.response.status === 422))
    throw new CliError(
      EXIT.usage,
      `'${name}' (the file's name) cannot name an artifact: 1–128 letters, digits, '.', '_', '+' or '-'; give --name`,
    );
  return (await unwrap(Promise.resolve(r))).data;
}

/** What the control plane answered to a PUT of bytes. */
interface Answer {
  status: number;
  statusText: string;
  text: string;
}

/** The connection failed (refused, reset, stalled): worth sending the bytes again. */
class NetworkError extends CliError {
  constructor(origin: string, e: NodeJS.ErrnoException) {
    super(EXIT.failed, `the upload to ${origin} failed: ${e.code ?? e.message}`);
  }
}

/** Ctrl-C (or SIGTERM) while bytes were on their way. */
class Interrupted extends Error {}

/**
 * PUTs `length` bytes of `file` from `start` to `url`, piped from the file
 * with node:http rather than sent with fetch: on Node 20, fetch with a
 * stream body reads the stream ahead without bound (an 800 MiB upload grew
 * the process by 800 MiB; piped, it stays under 100 MiB). The length is
 * declared, so that the control plane can refuse a wrong size before
 * reading the body. Rejects with a NetworkError when the connection fails,
 * with Interrupted when `signal` aborts.
 */
function putBytes(
  url: URL,
  token: string,
  file: string,
  range: { start: number; length: number },
  opts: { onBytes: (n: number) => void; signal?: AbortSignal; idleMs?: number },
): Promise<Answer> {
  return new Promise<Answer>((resolve, reject) => {
    const source = createReadStream(file, {
      highWaterMark: CHUNK,
      // Exactly the bytes that were hashed, should the file grow meanwhile.
      ...(range.length > 0 ? { start: range.start, end: range.start + range.length - 1 } : {}),
    });
    const req = (url.protocol === "https:" ? httpsRequest : httpRequest)(
      url,
      {
        method: "PUT",
        headers: {
          Authorization: `Bearer ${token}`,
          "Content-Type": "application/octet-stream",
          "Content-Length": String(range.length),
        },
      },
      (res) => {
        // The answer may come before the whole body went (a refusal): send no more.
        source.unpipe(req);
        source.destroy();
        let text = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => {
          text += d;
        });
        res.on("end", () => {
          // A body cut short keeps the request open: nothing more is to be said on it.
          req.destroy();
          resolve({ status: res.statusCode ?? 0, statusText: res.statusMessage ?? "", text });
        });
        res.on("error", (e) => reject(new NetworkError(url.origin, e)));
      },
    );
    const stop = () => {
      source.destroy();
      req.destroy();
      reject(new Interrupted());
    };
    if (opts.signal?.aborted) return stop();
    opts.signal?.addEventListener("abort", stop, { once: true });
    req.on("close", () => opts.signal?.removeEventListener("abort", stop));
    // A connection that stalls is a failed one, and a part is worth sending again.
    if (opts.idleMs)
      req.setTimeout(opts.idleMs, () =>
        req.destroy(new Error(`nothing sent or received for ${opts.idleMs! / 1000} s`)),
      );
    req.on("error", (e: NodeJS.ErrnoException) => reject(new NetworkError(url.origin, e)));
    source.on("error", (e) => {
      req.destroy();
      reject(new CliError(EXIT.failed, `cannot read ${file}: ${e.message}`));
    });
    source.on("data", (chunk) => opts.onBytes(chunk.length));
    source.pipe(req);
  });
}

/** The answer's JSON document, or the API's problem for an error status. */
function documentOf<T>(answer: Answer): T {
  let doc: unknown;
  try {
    doc = JSON.parse(answer.text);
  } catch {
    doc = undefined;
  }
  if (answer.status < 200 || answer.status > 299) throw new ApiProblem(answer.status, doc, answer.statusText);
  return doc as T;
}

const urlOf = (session: Session, path: string) => new URL(`${session.endpoint.replace(/\/+$/, "")}${path}`);

/** The file's first `size` bytes as the content of `name`, in one request. */
async function putContent(cli: Cli, session: Session, file: string, name: string, size: number) {
  const url = urlOf(session, `${PATH}/${encodeURIComponent(name)}/content`);
  const token = await session.token();
  const shown = progress(cli, "uploading", name, size);
  let took: string;
  let answer: Answer;
  try {
    answer = await putBytes(url, token, file, { start: 0, length: size }, { onBytes: shown.add });
  } finally {
    took = shown.end();
  }
  return { doc: documentOf<{ spec: Artifact }>(answer), took };
}

/**
 * Files larger than this go in parts unless `--no-multipart`: under the
 * 100 MB a Worker takes in one request, and the Node control plane's part
 * size (64 MiB), so that a file in parts is one of several there too.
 */
export const MULTIPART_OVER = 64 * 1024 ** 2;
/** Times a part is sent again after a network error or a 5xx (or 429) answer. */
const RETRIES = 3;
/** Seconds before the first retry; doubled for each next one. */
const RETRY_AFTER_S = 0.5;
/** A part's connection with nothing sent or received for this long is dropped and retried. */
const PART_IDLE_MS = 120_000;

const partsOf = (n: number) => `${n} part${n === 1 ? "" : "s"}`;
const retryable = (status: number) => status >= 500 || status === 429;

/**
 * Uploads in parts (`POST …/uploads`, a PUT per part, `…/complete`), for
 * content larger than one request may carry. The control plane says the
 * part size; each part streams from its place in the file and is sent again
 * up to RETRIES times after a network error or a 5xx. A failure that
 * retries do not cure, or Ctrl-C, abandons the upload (`DELETE`) so that its
 * parts do not linger. Undefined when the control plane takes uploads in
 * one request only and `forced` is false.
 */
async function putInParts(
  cli: Cli,
  session: Session,
  file: string,
  name: string,
  size: number,
  forced: boolean,
) {
  const base = `${PATH}/${encodeURIComponent(name)}/uploads`;
  const began = await session.client.POST("/boot/v1/artifacts/{name}/uploads", {
    params: { path: { name } },
  });
  // 503: this control plane has no multipart store; the one request may still fit.
  if (began.response.status === 503 && !forced) return undefined;
  const { uploadId, partSize, parts } = (await unwrap(Promise.resolve(began))).data;
  if (!(partSize > 0) || parts !== Math.ceil(size / partSize))
    throw new CliError(
      EXIT.failed,
      `the control plane asked for ${parts} parts of ${partSize} bytes for ${size} bytes`,
    );

  const stop = new AbortController();
  let signalled: NodeJS.Signals | undefined;
  const onSignal = (s: NodeJS.Signals) => {
    // A second Ctrl-C: leave now, without waiting for the upload to be abandoned.
    if (signalled) process.exit(128 + (constants.signals[s] ?? 2));
    signalled = s;
    stop.abort();
  };
  process.on("SIGINT", onSignal);
  process.on("SIGTERM", onSignal);
  const tty = cli.io.stderr.isTTY === true;
  const shown = progress(cli, "uploading", `${name} (${partsOf(parts)})`, size);
  let ended = false;
  const end = () => {
    ended = true;
    return shown.end();
  };
  /** Sends part `n` until it is taken, retries run out, or the upload is interrupted; its etag. */
  const sendPart = async (n: number) => {
    const start = (n - 1) * partSize;
    const length = Math.min(partSize, size - start);
    const url = urlOf(session, `${base}/${encodeURIComponent(uploadId)}/parts/${n}`);
    for (let attempt = 0; ; attempt++) {
      let sent = 0;
      let why: string;
      try {
        const answer = await putBytes(
          url,
          await session.token(),
          file,
          { start, length },
          {
            onBytes: (b) => {
              sent += b;
              shown.add(b);
            },
            signal: stop.signal,
            idleMs: PART_IDLE_MS,
          },
        );
        if (!retryable(answer.status) || attempt === RETRIES)
          return documentOf<{ partNumber: number; etag: string }>(answer);
        why = `HTTP ${answer.status}${answer.statusText ? ` ${answer.statusText}` : ""}`;
      } catch (e) {
        if (!(e instanceof NetworkError) || attempt === RETRIES) throw e;
        why = e.message;
      }
      // Those bytes go again.
      shown.add(-sent);
      const wait = RETRY_AFTER_S * 2 ** attempt;
      shown.note(`part ${n} of ${parts}: ${why}; sending it again in ${wait} s (${attempt + 1}/${RETRIES})`);
      await abortableSleep(wait * 1000, stop.signal);
      if (stop.signal.aborted) throw new Interrupted();
    }
  };

  let completing = false;
  try {
    const etags: { partNumber: number; etag: string }[] = [];
    for (let n = 1; n <= parts; n++) etags.push(await sendPart(n));
    const took = end();
    // The control plane reads the whole content back to check it: a large one takes a while.
    if (tty) cli.io.stderr.write(`checking ${name} on the control plane…\n`);
    completing = true;
    const done = await unwrap(
      session.client.POST("/boot/v1/artifacts/{name}/uploads/{uploadId}/complete", {
        params: { path: { name, uploadId } },
        body: { parts: etags },
        signal: stop.signal,
      }),
    );
    return { doc: done.data, took, parts, partSize };
  } catch (e) {
    if (!ended) end();
    const interrupted = signalled !== undefined;
    // A completion refused (4xx) ends the upload on the control plane: nothing left to abandon.
    if (interrupted || !completing || !(e instanceof ApiProblem) || e.status >= 500)
      await abandon(cli, session, name, uploadId);
    if (interrupted) throw new CliError(EXIT.failed, `interrupted (${signalled})`);
    throw e;
  } finally {
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
  }
}

/** `DELETE …/uploads/{uploadId}`, saying whether the parts sent were dropped. */
async function abandon(cli: Cli, session: Session, name: string, uploadId: string) {
  let why: string;
  try {
    const r = await session.client.DELETE("/boot/v1/artifacts/{name}/uploads/{uploadId}", {
      params: { path: { name, uploadId } },
      // An exit is waiting on this; the control plane drops abandoned uploads itself in time.
      signal: AbortSignal.timeout(15_000),
    });
    if (r.response.ok || r.response.status === 404) {
      cli.io.stderr.write(`abandoned upload ${uploadId} of ${name}: the parts sent are dropped\n`);
      return;
    }
    why = `HTTP ${r.response.status}`;
  } catch (e) {
    why = (e as Error).message;
  }
  cli.io.stderr.write(
    `could not abandon upload ${uploadId} of ${name} (${why}): the control plane drops it in time\n`,
  );
}

type UploadArgs = GlobalOptions & {
  file: string;
  name?: string;
  kind: Kind;
  label?: string[];
  multipart?: boolean;
};

/**
 * Registers and uploads, in two steps as the API has them (POST, then the
 * bytes: one PUT, or parts for a file over MULTIPART_OVER). Run again after
 * an interruption it finds the registration without content and only
 * uploads; run again after success it says so and changes nothing.
 */
async function upload(cli: Cli, a: UploadArgs) {
  const name = a.name ?? basename(a.file);
  const labels = labelsOf(a.label);
  const total = fileSize(a.file);
  const session = cli.session(a);
  const printer = cli.printer(a);
  // Asked before hashing: a name in use for other bytes is known without reading gigabytes.
  const doc = await existing(session, name, a.name !== undefined);
  const before = doc?.spec;
  if (before && before.kind !== a.kind)
    throw new CliError(EXIT.failed, `artifact '${name}' is registered as ${before.kind}, not ${a.kind}`);
  const { sha256, size } = await hashFile(cli, a.file, name, total);
  if (before && before.sha256 !== sha256)
    throw new CliError(
      EXIT.failed,
      `artifact '${name}' is registered with sha256 ${before.sha256}; ${a.file} has sha256 ${sha256}. A new build needs a new name (--name)`,
    );
  if (before?.url || before?.stored) {
    printer.err(
      before.url
        ? `${name} is registered by URL (${before.url}) with this sha256: nothing to upload`
        : `${name} is already uploaded with this sha256 (${sha256}): nothing to do`,
    );
    return printer.print(doc, columns);
  }
  if (before) printer.err(`${name} is registered without its content: uploading it`);
  else
    await unwrap(
      session.client.POST("/boot/v1/artifacts", {
        body: { name, sha256, size, kind: a.kind, ...(labels ? { labels } : {}) },
      }),
    );
  // An empty file has no parts to send.
  const inParts = size > 0 && (a.multipart ?? size > MULTIPART_OVER);
  try {
    const parted = inParts
      ? await putInParts(cli, session, a.file, name, size, a.multipart === true)
      : undefined;
    const { doc, took } = parted ?? (await putContent(cli, session, a.file, name, size));
    const how = parted ? `, ${partsOf(parted.parts)} of ${humanBytes(parted.partSize)}` : "";
    printer.err(`uploaded ${name}: ${took}${how}, sha256 ${sha256}`);
    printer.print(doc, columns);
  } catch (e) {
    printer.err(
      `(${name} stays registered without its content: run this upload again to finish it, or delete it with chamicore bss artifacts delete ${name})`,
    );
    throw e;
  }
}

// ---------- add ----------

type AddArgs = GlobalOptions & {
  name: string;
  url?: string;
  sha256?: string;
  size?: number;
  kind: Kind;
  label?: string[];
};

async function add(cli: Cli, a: AddArgs) {
  if (a.url === undefined)
    throw new CliError(
      EXIT.usage,
      "--url is required: add registers content that stays on a web server (chamicore bss artifacts upload FILE sends a local file)",
    );
  const missing = (["sha256", "size"] as const).filter((k) => a[k] === undefined).map((k) => `--${k}`);
  if (missing.length > 0)
    throw new CliError(
      EXIT.usage,
      `${missing.join(" and ")} ${missing.length > 1 ? "are" : "is"} required: the CLI does not download the URL (on a copy of the file: sha256sum FILE; stat -c %s FILE)`,
    );
  if (!Number.isSafeInteger(a.size) || a.size! < 0)
    throw new CliError(EXIT.usage, "--size takes a whole number of bytes");
  const labels = labelsOf(a.label);
  const { data } = await unwrap(
    cli.session(a).client.POST("/boot/v1/artifacts", {
      body: {
        name: a.name,
        url: a.url,
        sha256: a.sha256!.toLowerCase(),
        size: a.size!,
        kind: a.kind,
        ...(labels ? { labels } : {}),
      },
    }),
  );
  cli.printer(a).print(data, columns);
}

// ---------- the command group ----------

const addCommands = (g: Argv, cli: Cli): Argv =>
  g
    .command(
      "add <name>",
      "register an artifact that stays on a web or S3-compatible server (nodes and edges fetch it from there, verified against --sha256 and --size)",
      (c) =>
        c
          .positional("name", {
            type: "string",
            demandOption: true,
            describe: "the artifact's name: 1–128 letters, digits, '.', '_', '+' or '-'",
          })
          .option("url", { type: "string", describe: "where the content lives (http or https)" })
          .option("sha256", { type: "string", describe: "the content's SHA-256 (sha256sum's output)" })
          .option("size", { type: "number", describe: "the content's size in bytes" })
          .option("kind", kindOption)
          .option("label", labelOption)
          .example(
            "$0 bss artifacts add vmlinuz-6.1.0 --kind kernel --url http://images.example/vmlinuz-6.1.0 --sha256 5891b5b5…6be03 --size 12345678",
            "register a kernel by URL",
          )
          .example(
            "$0 bss artifacts add rocky9.img --kind image --url https://s3.example/images/rocky9.img --sha256 $(sha256sum rocky9.img | cut -d' ' -f1) --size $(stat -c %s rocky9.img) --label os=rocky9",
            "digest and size from a local copy",
          ),
      run<AddArgs>((a) => add(cli, a)),
    )
    .command(
      "upload <file>",
      "register a local file as an artifact and upload it to the control plane (streamed, verified by the server; run it again to finish an interrupted upload)",
      (c) =>
        c
          .positional("file", { type: "string", demandOption: true, describe: "the file to upload" })
          .option("name", { type: "string", describe: "the artifact's name (default: the file's name)" })
          .option("kind", kindOption)
          .option("label", labelOption)
          .option("multipart", {
            type: "boolean",
            describe: `send the file in parts of the size the control plane asks for, each retried on a network error (default: for files over ${humanBytes(MULTIPART_OVER)}); --no-multipart sends it in one request`,
          })
          .example(
            "$0 bss artifacts upload ./vmlinuz-6.1.0 --kind kernel",
            "upload a kernel, named for the file",
          )
          .example(
            "$0 bss artifacts upload build/initrd.img --name initrd-6.1.0-compute --kind initrd --label site=rack1",
            "with a name and a label",
          )
          .example(
            "$0 bss artifacts upload rocky9.qcow2 --kind image",
            `a disk image: over ${humanBytes(MULTIPART_OVER)}, it goes in parts (Ctrl-C abandons the upload)`,
          ),
      run<UploadArgs>((a) => upload(cli, a)),
    );

/** `bss artifacts …`, in the bss group. */
export function artifactCommands(g: Argv, cli: Cli): Argv {
  return resourceCommand(g, cli, {
    name: "artifacts",
    parent: "bss",
    describe:
      "boot artifacts: kernels, initrds, images and iPXE binaries, known by name and SHA-256, registered by URL or uploaded; boot parameters name them (--kernel-artifact)",
    path: PATH,
    key: "key",
    sample: "vmlinuz-6.1.0",
    columns,
    verbs: ["list", "get", "delete"],
    filters: {
      kind: filter(`kind: ${KINDS.join(", ")}`),
      name: filter("artifact name"),
      sha256: filter("content SHA-256"),
      sort: sortFilter("name, kind, size, createdAt, updatedAt"),
    },
    examples: [
      ["$0 bss artifacts upload ./vmlinuz-6.1.0 --kind kernel", "upload a kernel"],
      [
        "$0 bss bootparams create --role Compute --kernel-artifact vmlinuz-6.1.0",
        "boot compute nodes with it",
      ],
      ["$0 bss artifacts list --kind kernel", "the kernels there are"],
    ],
    verbExamples: {
      list: [
        ["$0 bss artifacts list", "every artifact: name, kind, size, digest, where it is served from"],
        ["$0 bss artifacts list --kind kernel,initrd", "kernels and initrds"],
        [
          "$0 bss artifacts list --sha256 5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03 -o json",
          "which artifact has these bytes",
        ],
      ],
      get: [
        ["$0 bss artifacts get vmlinuz-6.1.0", "one artifact, by name"],
        [
          "$0 bss artifacts get 5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03 -o yaml",
          "by SHA-256",
        ],
      ],
      delete: [
        [
          "$0 bss artifacts delete vmlinuz-6.0.9",
          "by name or SHA-256; refused while boot parameters name it",
        ],
      ],
    },
    more: addCommands,
  });
}
