/**
 * `chamicore export`: an air-gap bundle from the control API, to carry to an
 * edge no network reaches (docs/air-gapped.md): the snapshot, or with
 * `--since` the changes after the edge's position, signed by the control
 * plane's bundle key. `--public-key` writes that key for the edge's
 * CHAMICORE_EDGE_TRUSTED_KEYS. The file is written under a temporary name
 * and renamed once whole: a failed export leaves no half bundle behind.
 */
import { createWriteStream } from "node:fs";
import { rename, rm, stat } from "node:fs/promises";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { ReadableStream as NodeReadableStream } from "node:stream/web";
import type { Argv } from "yargs";
import { unwrap } from "../../../shared/client";
import { type Cli, type GlobalOptions, run } from "../../../shared/node/cli/app";
import { CliError, EXIT } from "../../../shared/node/cli/errors";
import type { CommandModule } from "../groups";

type ExportArgs = GlobalOptions & {
  since?: number;
  "without-artifacts"?: boolean;
  "public-key"?: boolean;
  file?: string;
};

function exportCommand(y: Argv, cli: Cli): Argv {
  return y.command(
    "export [file]",
    "write a signed bundle of what edges serve (or its public key), to feed an edge across an air gap",
    (c) =>
      c
        .usage(
          "$0 export [FILE] [--since POSITION] [--without-artifacts]\n$0 export --public-key [FILE]\n\n" +
            "A bundle holds the snapshot (or with --since, the changes after that position), the boot files its " +
            "boot parameters name, and a manifest signed by the control plane's bundle key. Carry it to the edge " +
            "and run `chamicore edge import FILE` there. Needs read:feed (the edge role has it). See docs/air-gapped.md.",
        )
        .option("since", {
          type: "number",
          describe: "only the changes after this position: the edge's (chamicore edge status shows it)",
        })
        .option("without-artifacts", {
          type: "boolean",
          describe: "leave out the boot files (kernels, initrds): the edge already has them",
        })
        .option("public-key", {
          type: "boolean",
          describe: "write the bundle key's public half (a JWKS) for the edge's CHAMICORE_EDGE_TRUSTED_KEYS",
        })
        .positional("file", {
          type: "string",
          describe:
            "the file to write (default: the name the control plane gives; with --public-key, stdout)",
        })
        .conflicts("public-key", ["since", "without-artifacts"])
        .example("$0 export site.tar.gz", "everything an edge needs, as of now")
        .example("$0 export delta.tar.gz --since 18234", "the changes after an edge's position")
        .example("$0 export --public-key bundle-key.json", "the key edges check bundles with"),
    run<ExportArgs>(async (a) => {
      const session = cli.session(a);
      if (a["public-key"]) {
        const { data } = await unwrap(session.client.GET("/events/v1/bundle/keys", {}));
        const text = `${JSON.stringify(data, null, 2)}\n`;
        if (a.file === undefined) process.stdout.write(text);
        else {
          await writeWhole(a.file, Readable.from([text]));
          process.stderr.write(`wrote ${data.keys.length} bundle key(s) to ${a.file}\n`);
        }
        return;
      }
      if (a.since !== undefined && (!Number.isInteger(a.since) || a.since < 0))
        throw new CliError(EXIT.usage, "--since takes a position: a whole number, 0 or more");
      const t0 = performance.now();
      const query = {
        ...(a.since === undefined ? {} : { since: a.since }),
        ...(a["without-artifacts"] ? { artifacts: "false" as const } : {}),
      };
      const { response } = await unwrap(
        session.client.GET("/events/v1/bundle", { params: { query }, parseAs: "stream" }),
      );
      const out = a.file ?? suggestedName(response) ?? "chamicore-bundle.tar.gz";
      let bytes = 0;
      let shown = 0;
      const tty = process.stderr.isTTY;
      const counted = Readable.fromWeb(response.body as NodeReadableStream<Uint8Array>).on(
        "data",
        (c: Buffer) => {
          bytes += c.length;
          if (tty && performance.now() - shown > 500) {
            shown = performance.now();
            process.stderr.write(`\r${mb(bytes)} written to ${out}`);
          }
        },
      );
      await writeWhole(out, counted);
      const size = (await stat(out)).size;
      const kind = response.headers.get("x-chamicore-bundle-kind") ?? "bundle";
      const position = response.headers.get("x-chamicore-bundle-position") ?? "?";
      const source = response.headers.get("x-chamicore-bundle-source") ?? "?";
      process.stderr.write(
        `${tty ? "\r" : ""}wrote ${out}: a ${kind} of control plane ${source} at position ${position}${
          a.since === undefined ? "" : ` (the changes after ${a.since})`
        }, ${mb(size)} in ${((performance.now() - t0) / 1000).toFixed(1)} s\n` +
          `on the edge: chamicore edge import ${out}\n`,
      );
    }),
  );
}

/** Writes `body` to `path` through `path.part`, renamed once complete. */
async function writeWhole(path: string, body: Readable) {
  const part = `${path}.part`;
  try {
    await pipeline(body, createWriteStream(part));
    await rename(part, path);
  } catch (e) {
    await rm(part, { force: true });
    throw e;
  }
}

function suggestedName(res: Response): string | undefined {
  const m = /filename="([A-Za-z0-9._-]+)"/.exec(res.headers.get("content-disposition") ?? "");
  return m?.[1];
}

const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;

export const exportCommands: CommandModule = (y, cli) => exportCommand(y, cli);
