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
import { z } from "zod";
import { CliError, EXIT } from "./errors";

export const ContextSchema = z.object({
  endpoint: z.url(),
  "client-id": z.string().optional(),
  /** Kept so that expired tokens renew without asking (the file is 0600). */
  "client-secret": z.string().optional(),
});
export type Context = z.infer<typeof ContextSchema>;

export const ConfigSchema = z.object({
  "current-context": z.string().optional(),
  output: z.enum(["table", "json", "yaml"]).optional(),
  contexts: z.record(z.string(), ContextSchema).default({}),
});
export type Config = z.infer<typeof ConfigSchema>;

export const CachedTokenSchema = z.object({
  token: z.string(),
  /** Epoch seconds. */
  expires: z.number(),
});
export type CachedToken = z.infer<typeof CachedTokenSchema>;

type Env = Record<string, string | undefined>;

export function configPath(env: Env): string {
  if (env.CHAMICORE_CONFIG) return env.CHAMICORE_CONFIG;
  const base = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), ".config");
  return join(base, "chamicore", "config.yaml");
}

const tokensPath = (env: Env) => join(dirname(configPath(env)), "tokens.yaml");

function readYaml<T>(file: string, schema: z.ZodType<T>, empty: T): T {
  if (!existsSync(file)) return empty;
  let raw: unknown;
  try {
    raw = parse(readFileSync(file, "utf8")) ?? {};
  } catch (e) {
    throw new CliError(EXIT.usage, `${file} is not valid YAML: ${(e as Error).message}`);
  }
  const r = schema.safeParse(raw);
  if (!r.success)
    throw new CliError(
      EXIT.usage,
      `${file}: ${r.error.issues.map((i) => `${i.path.join(".") || "(top)"}: ${i.message}`).join("; ")}`,
    );
  return r.data;
}

function writePrivate(file: string, value: unknown) {
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  const tmp = `${file}.${process.pid}.tmp`;
  writeFileSync(tmp, stringify(value), { mode: 0o600 });
  chmodSync(tmp, 0o600);
  renameSync(tmp, file);
}

export const loadConfig = (env: Env): Config => readYaml(configPath(env), ConfigSchema, { contexts: {} });
export const saveConfig = (env: Env, c: Config) => writePrivate(configPath(env), c);

const TokensSchema = z.record(z.string(), CachedTokenSchema);
export const loadTokens = (env: Env): Record<string, CachedToken> =>
  readYaml(tokensPath(env), TokensSchema, {});
export const saveTokens = (env: Env, t: Record<string, CachedToken>) => writePrivate(tokensPath(env), t);
