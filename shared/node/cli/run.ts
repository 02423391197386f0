/**
 * Runs a yargs tree the way every Chamicore executable does: `-` as a
 * value, usage errors on stderr with exit code 2 and a hint, handler errors
 * through describeError, and the process's exit code at the end.
 */
import type { Argv } from "yargs";
import { Cli, type CliIo } from "./app";
import { describeError, EXIT } from "./errors";

/**
 * `--file -` as `--file=-`: yargs does not take a lone `-` as a long
 * option's value, and `-` is how every Unix tool says "standard input".
 */
function stdinValues(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a.startsWith("--") && !a.includes("=") && argv[i + 1] === "-") {
      out.push(`${a}=-`);
      i++;
    } else out.push(a);
  }
  return out;
}

/**
 * The word yargs refused as an unknown command, if that is what `usage`
 * says (strict mode names unknown words "arguments"). The trees pin yargs'
 * locale to English, as the rest of the CLI's text is.
 */
function unknownWord(usage: string, argv: string[]): string | undefined {
  const m = /^Unknown (?:arguments?|commands?): (.+)$/.exec(usage);
  const first = argv.find((a) => !a.startsWith("-"));
  if (!m || first === undefined) return undefined;
  return m[1]!.split(", ").includes(first) ? first : undefined;
}

/** Builds `program`'s tree with `build` and runs it; resolves to the exit code. */
export async function runTree(
  program: string,
  build: (argv: string[], cli: Cli) => Argv,
  rawArgv: string[],
  io: CliIo,
): Promise<number> {
  const argv = stdinValues(rawArgv);
  const cli = new Cli(io);
  let usage: string | undefined;
  const y = build(argv, cli)
    .locale("en")
    .fail((msg, err) => {
      if (err) throw err;
      usage = msg;
      // Throwing stops yargs here: a command with a bad flag must not run.
      throw new Error(msg);
    });
  try {
    await y.parseAsync();
  } catch (e) {
    if (usage === undefined) {
      const { code, text } = describeError(e);
      io.stderr.write(`${text}\n`);
      return code;
    }
  }
  if (usage !== undefined) {
    const first = unknownWord(usage, argv);
    if (first !== undefined) {
      io.stderr.write(`${program}: unknown command '${first}'. Run '${program} --help' for the list.\n`);
      return EXIT.usage;
    }
    const words = argv.filter((a) => !a.startsWith("-")).slice(0, 2);
    io.stderr.write(`${program}: ${usage} (see '${program} ${[...words, ""].join(" ")}--help')\n`);
    return EXIT.usage;
  }
  return cli.exitCode;
}

/**
 * The process's main: runs `run` with this process's streams and exits with
 * its code. Servers keep running until a signal. An error `plain` accepts
 * (a configuration error) is printed as its message, anything else with its
 * stack.
 */
export function runMain(
  program: string,
  run: (argv: string[], io: CliIo) => Promise<number>,
  plain: (err: unknown) => Promise<boolean>,
  io: Partial<CliIo> = {},
  argv: string[] = process.argv.slice(2),
): void {
  run(argv, {
    stdout: process.stdout,
    stderr: process.stderr,
    stdin: process.stdin,
    env: process.env,
    ...io,
  }).then(
    (code) => process.exit(code),
    async (err) => {
      if (await plain(err)) process.stderr.write(`${program}: ${(err as Error).message}\n`);
      else
        process.stderr.write(
          `${program}: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`,
        );
      process.exit(1);
    },
  );
}
