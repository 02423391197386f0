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

/** The names (and aliases) of the top-level commands. */
function topLevelCommands(y: Argv): string[] {
  const internal = (
    y as unknown as { getInternalMethods(): { getCommandInstance(): { getCommands(): string[] } } }
  )
    .getInternalMethods()
    .getCommandInstance();
  return internal.getCommands();
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
  const y = build(argv, cli).fail((msg, err) => {
    if (err) throw err;
    usage = msg;
    // Throwing stops yargs here: a command with a bad flag must not run.
    throw new Error(msg);
  });
  const known = topLevelCommands(y);
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
    const first = argv.find((a) => !a.startsWith("-"));
    if (first !== undefined && !known.includes(first)) {
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
