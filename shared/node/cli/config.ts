/**
 * The CLI's configuration: named contexts (an endpoint and the credentials
 * to renew tokens with) in `$XDG_CONFIG_HOME/chamicore/config.yaml`
 * (`~/.config/chamicore/config.yaml`), and the cached tokens beside it in
 * `tokens.yaml`. Both hold secrets, so both are written 0600 (and their
 * directory 0700), atomically (write then rename), so that a crash never
 * leaves half a file. `CHAMICORE_CONFIG` names another config file.
 */
import { chmodSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { parse, stringify } from "yaml";
import { CliError, EXIT } from "./errors";

// Checked by hand, not with zod: in the bundled CLI zod's core would be
// shared with the servers' chunks and parsed at every start, --help included.

export interface Context {
  endpoint: string;
  "client-id"?: string | undefined;
  /** Kept so that expired tokens renew without asking (the file is 0600). */
  "client-secret"?: string | undefined;
}

export interface Config {
  "current-context"?: string | undefined;
  output?: "table" | "json" | "yaml" | undefined;
  contexts: Record<string, Context>;
}

export interface CachedToken {
  token: string;
  /** Epoch seconds. */
  expires: number;
}

/** A field that does not fit: where (dotted path) and why. */
type Issue = [path: string, message: string];

const OUTPUTS = ["table", "json", "yaml"] as const;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

function optionalString(v: unknown, path: string, issues: Issue[]): string | undefined {
  if (v === undefined || typeof v === "string") return v;
  issues.push([path, "expected a string"]);
  return undefined;
}

function recordOf<T>(
  v: unknown,
  path: string,
  issues: Issue[],
  item: (v: unknown, path: string, issues: Issue[]) => T,
): Record<string, T> {
  if (!isObject(v)) {
    issues.push([path, "expected a map"]);
    return {};
  }
  return Object.fromEntries(
    Object.entries(v).map(([k, x]) => [k, item(x, path ? `${path}.${k}` : k, issues)]),
  );
}

function context(v: unknown, path: string, issues: Issue[]): Context {
  if (!isObject(v)) {
    issues.push([path, "expected a map"]);
    return { endpoint: "" };
  }
  const endpoint = typeof v.endpoint === "string" ? v.endpoint : "";
  if (!URL.canParse(endpoint)) issues.push([`${path}.endpoint`, "expected a URL"]);
  const ctx: Context = { endpoint };
  const clientId = optionalString(v["client-id"], `${path}.client-id`, issues);
  const clientSecret = optionalString(v["client-secret"], `${path}.client-secret`, issues);
  if (clientId !== undefined) ctx["client-id"] = clientId;
  if (clientSecret !== undefined) ctx["client-secret"] = clientSecret;
  return ctx;
}

function config(v: unknown, issues: Issue[]): Config {
  if (!isObject(v)) {
    issues.push(["", "expected a map"]);
    return { contexts: {} };
  }
  const c: Config = {
    contexts: v.contexts === undefined ? {} : recordOf(v.contexts, "contexts", issues, context),
  };
  const current = optionalString(v["current-context"], "current-context", issues);
  if (current !== undefined) c["current-context"] = current;
  if (v.output !== undefined) {
    if (OUTPUTS.includes(v.output as never)) c.output = v.output as Config["output"];
    else issues.push(["output", `expected one of ${OUTPUTS.join(", ")}`]);
  }
  return c;
}

function cachedToken(v: unknown, path: string, issues: Issue[]): CachedToken {
  if (!isObject(v) || typeof v.token !== "string" || typeof v.expires !== "number") {
    issues.push([path, "expected a token (string) and its expiry (number)"]);
    return { token: "", expires: 0 };
  }
  return { token: v.token, expires: v.expires };
}

type Env = Record<string, string | undefined>;

export function configPath(env: Env): string {
  if (env.CHAMICORE_CONFIG) return env.CHAMICORE_CONFIG;
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), ".config");
  return join(base, "chamicore", "config.yaml");
}

const tokensPath = (env: Env) => join(dirname(configPath(env)), "tokens.yaml");

function readYaml<T>(file: string, check: (v: unknown, issues: Issue[]) => T, empty: T): T {
  if (!existsSync(file)) return empty;
  let raw: unknown;
  try {
    raw = parse(readFileSync(file, "utf8")) ?? {};
  } catch (e) {
    throw new CliError(EXIT.usage, `${file} is not valid YAML: ${(e as Error).message}`);
  }
  const issues: Issue[] = [];
  const value = check(raw, issues);
  if (issues.length > 0)
    throw new CliError(
      EXIT.usage,
      `${file}: ${issues.map(([path, message]) => `${path || "(top)"}: ${message}`).join("; ")}`,
    );
  return value;
}

function writePrivate(file: string, value: unknown) {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, stringify(value), { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

export const loadConfig = (env: Env): Config => readYaml(configPath(env), config, { contexts: {} });
export const saveConfig = (env: Env, c: Config) => writePrivate(configPath(env), c);

export const loadTokens = (env: Env): Record<string, CachedToken> =>
  readYaml(tokensPath(env), (v, issues) => recordOf(v, "", issues, cachedToken), {});
export const saveTokens = (env: Env, t: Record<string, CachedToken>) => writePrivate(tokensPath(env), t);
