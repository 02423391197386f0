/**
 * What every command handler gets: the process's streams and environment,
 * the global options, and lazily the printer and the API session. Tests run
 * the real bin as a subprocess; nothing here is faked for them.
 */
import type { Argv } from "yargs";
import { loadConfig } from "./config";
import { createPrinter, FORMATS, type Format, type Printer } from "./output";
import { openSession, type Session } from "./session";

export type Env = Record<string, string | undefined>;

export interface CliIo {
  stdout: NodeJS.WriteStream;
  stderr: NodeJS.WriteStream;
  stdin: NodeJS.ReadStream;
  env: Env;
  /**
   * How this executable runs `edge`: the single edge executable brings its
   * Bun server; otherwise the Node one is loaded on demand.
   */
  startEdge?: (env: Env, opts: { resync: boolean }) => Promise<{ close(): Promise<void> }>;
  /** Likewise how it imports an air-gap bundle: with its own SQLite (edge-node/bundles/). */
  importBundle?: (env: Env, opts: BundleImportFlags) => Promise<BundleImportReport>;
}

/** `chamicore edge import`'s flags. */
export interface BundleImportFlags {
  file: string;
  allowOlder: boolean;
  allowOtherSource: boolean;
  progress: (line: string) => void;
}

/** What an import did, for its report. */
export interface BundleImportReport {
  kind: string;
  source: string;
  signedBy: string;
  before: number;
  position: number;
  counts: Record<string, number>;
  artifacts: number;
  artifactsLeftOut: number;
  ms: number;
}

export interface GlobalOptions {
  output?: Format;
  endpoint?: string;
  token?: string;
  context?: string;
}

export class Cli {
  /** Set by a handler that finished but not wholly (partial failure). */
  exitCode = 0;

  constructor(readonly io: CliIo) {}

  get env(): Env {
    return this.io.env;
  }

  printer(a: GlobalOptions): Printer {
    return createPrinter(a.output, this.io, loadConfig(this.env).output);
  }

  session(a: GlobalOptions): Session {
    return openSession(a, this.env);
  }
}

/** The options every command takes. */
export function globalOptions<T>(y: Argv<T>) {
  return y
    .option("output", {
      alias: "o",
      choices: FORMATS,
      describe: "table, json or yaml (default: table on a terminal, JSON otherwise)",
      global: true,
    })
    .option("context", {
      type: "string",
      describe: "config context to use (CHAMICORE_CONTEXT)",
      global: true,
    })
    .option("endpoint", { type: "string", describe: "control API URL (CHAMICORE_ENDPOINT)", global: true })
    .option("token", {
      type: "string",
      describe: "bearer token to use as is (CHAMICORE_TOKEN)",
      global: true,
    });
}

/** A handler over the parsed arguments as the command declares them (yargs' own inference stops at subcommand builders). */
export const run =
  <T>(fn: (a: T) => Promise<void> | void) =>
  (argv: unknown) =>
    fn(argv as T);
