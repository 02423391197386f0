/**
 * Which control API a command talks to and with which token.
 *
 * Precedence, highest first: flags (`--endpoint`, `--token`, `--context`),
 * the environment (`CHAMICORE_ENDPOINT`, `CHAMICORE_TOKEN`,
 * `CHAMICORE_CONTEXT`), then the config file's current context. A token
 * from a flag or the environment is used as is; otherwise the context's
 * cached token, renewed with its client credentials 30 s before it expires.
 */
import { type ApiClient, ApiProblem, createClient } from "../../client";
import { type CachedToken, type Config, type Context, loadConfig, loadTokens, saveTokens } from "./config";
import { CliError, EXIT } from "./errors";

type Env = Record<string, string | undefined>;

export interface GlobalArgs {
  endpoint?: string;
  token?: string;
  context?: string;
}

export interface Session {
  endpoint: string;
  contextName: string | undefined;
  client: ApiClient;
  /** The bearer token (renewing it if needed). */
  token(): Promise<string>;
}

const RENEW_EARLY_S = 30;

/** Claims of a JWT, without verifying it (the server does that). */
export function claimsOf(token: string): Record<string, unknown> {
  const part = token.split(".")[1];
  if (!part) throw new CliError(EXIT.auth, "the token is not a JWT");
  try {
    return JSON.parse(Buffer.from(part, "base64url").toString("utf8")) as Record<string, unknown>;
  } catch {
    throw new CliError(EXIT.auth, "the token is not a JWT");
  }
}

export function contextOf(
  config: Config,
  args: GlobalArgs,
  env: Env,
): { name: string | undefined; ctx: Context | undefined } {
  const name = args.context ?? env.CHAMICORE_CONTEXT ?? config["current-context"];
  if (name !== undefined && !config.contexts[name] && (args.context || env.CHAMICORE_CONTEXT))
    throw new CliError(
      EXIT.usage,
      `no context '${name}'; chamicore context list shows them, chamicore auth login --context ${name} makes it`,
    );
  return { name, ctx: name ? config.contexts[name] : undefined };
}

/** POSTs a grant to /auth/v1/token; returns the token and when it expires. */
export async function requestToken(
  endpoint: string,
  form: Record<string, string>,
  basic?: { id: string; secret: string },
): Promise<CachedToken> {
  const res = await fetch(`${endpoint.replace(/\/+$/, "")}/auth/v1/token`, {
    method: "POST",
    headers: {
      "Content-Type": "application/x-www-form-urlencoded",
      ...(basic
        ? {
            Authorization: `Basic ${btoa(`${encodeURIComponent(basic.id)}:${encodeURIComponent(basic.secret)}`)}`,
          }
        : {}),
    },
    body: new URLSearchParams(form).toString(),
  });
  const body = (await res.json().catch(() => undefined)) as
    | { access_token?: string; expires_in?: number }
    | undefined;
  if (!res.ok || !body?.access_token) {
    const p = new ApiProblem(res.status, body, res.statusText);
    // A refused login is an authentication failure whatever the status the grant answers with.
    throw new CliError(EXIT.auth, `login refused (HTTP ${res.status}): ${p.message}`);
  }
  return { token: body.access_token, expires: Math.floor(Date.now() / 1000) + (body.expires_in ?? 3600) };
}

export function openSession(args: GlobalArgs, env: Env): Session {
  const config = loadConfig(env);
  const { name, ctx } = contextOf(config, args, env);
  const endpoint = args.endpoint ?? env.CHAMICORE_ENDPOINT ?? ctx?.endpoint;
  if (!endpoint)
    throw new CliError(
      EXIT.usage,
      "no control API configured: chamicore auth login --endpoint https://chamicore.example.org (or set CHAMICORE_ENDPOINT)",
    );
  const fixed = args.token ?? env.CHAMICORE_TOKEN;
  let current: string | undefined;
  const token = async (): Promise<string> => {
    if (fixed) return fixed;
    const now = Date.now() / 1000;
    if (current) return current;
    const cached = name ? loadTokens(env)[name] : undefined;
    if (cached && cached.expires - RENEW_EARLY_S > now) {
      current = cached.token;
      return current;
    }
    if (!name || !ctx)
      throw new CliError(EXIT.auth, "not logged in: chamicore auth login (or set CHAMICORE_TOKEN)");
    if (!ctx["client-id"] || !ctx["client-secret"])
      throw new CliError(
        EXIT.auth,
        `the token of context '${name}' has ${cached ? "expired" : "gone"} and cannot be renewed without client credentials: chamicore auth login --context ${name}`,
      );
    const fresh = await requestToken(
      ctx.endpoint,
      { grant_type: "client_credentials" },
      {
        id: ctx["client-id"],
        secret: ctx["client-secret"],
      },
    );
    saveTokens(env, { ...loadTokens(env), [name]: fresh });
    current = fresh.token;
    return current;
  };
  return { endpoint, contextName: name, client: createClient({ endpoint, token }), token };
}
