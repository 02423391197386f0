/**
 * Documents given to commands: `-f FILE` (JSON or YAML; `-` reads stdin)
 * and `--set key=value` pairs for small changes.
 */
import { readFileSync } from "node:fs";
import { parse } from "yaml";
import { CliError, EXIT } from "../../shared/node/cli/errors";

/** Reads a file, or stdin for `-`, as text (secrets and tokens: never parsed). */
export function readText(file: string, stdin: NodeJS.ReadStream): string {
  try {
    return file === "-"
      ? readFileSync((stdin as unknown as { fd: number }).fd ?? 0, "utf8")
      : readFileSync(file, "utf8");
  } catch (e) {
    throw new CliError(
      EXIT.usage,
      `cannot read ${file === "-" ? "standard input" : file}: ${(e as Error).message}`,
    );
  }
}

/** Reads a JSON or YAML document (YAML is a superset of JSON). */
export function readDocument(file: string, stdin: NodeJS.ReadStream): unknown {
  const text = readText(file, stdin);
  try {
    return parse(text);
  } catch (e) {
    throw new CliError(
      EXIT.usage,
      `${file === "-" ? "standard input" : file} is not JSON or YAML: ${(e as Error).message}`,
    );
  }
}

/**
 * `--set a=1 --set b.c=x --set d=null`: values are read as YAML scalars
 * (numbers, booleans, null, strings; `[a, b]` lists), dotted keys nest.
 */
export function setPairs(pairs: readonly string[] | undefined): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const pair of pairs ?? []) {
    const eq = pair.indexOf("=");
    if (eq <= 0) throw new CliError(EXIT.usage, `--set takes key=value, not '${pair}'`);
    const keys = pair.slice(0, eq).split(".");
    let value: unknown;
    try {
      value = parse(pair.slice(eq + 1));
    } catch {
      value = pair.slice(eq + 1);
    }
    let at = out;
    keys.slice(0, -1).forEach((k) => {
      at[k] = typeof at[k] === "object" && at[k] !== null ? at[k] : {};
      at = at[k] as Record<string, unknown>;
    });
    at[keys.at(-1)!] = value;
  }
  return out;
}
