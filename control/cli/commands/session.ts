/**
 * Logging in and choosing where to: `auth login|logout|token|whoami` and
 * `context list|use|delete`.
 */
import type { Argv } from "yargs";
import { type Cli, type GlobalOptions, run } from "../../../shared/node/cli/app";
import {
  type Context,
  loadConfig,
  loadTokens,
  saveConfig,
  saveTokens,
} from "../../../shared/node/cli/config";
import { CliError, EXIT } from "../../../shared/node/cli/errors";
import { claimsOf, contextOf, requestToken } from "../../../shared/node/cli/session";
import { readText } from "../input";

const TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange";
const JWT_TYPE = "urn:ietf:params:oauth:token-type:jwt";

type LoginArgs = GlobalOptions & {
  "client-id"?: string;
  "client-secret"?: string;
  "client-secret-stdin"?: boolean;
  "subject-token-file"?: string;
  scope?: string;
};

/**
 * Asks on the terminal; `hidden` does not echo what is typed. The prompt
 * libraries load only when a question is asked: most runs never ask.
 */
async function ask(cli: Cli, question: string, hidden = false): Promise<string> {
  const context = { input: cli.io.stdin, output: cli.io.stderr };
  try {
    const answer = hidden
      ? await (await import("@inquirer/password")).default({ message: question }, context)
      : await (await import("@inquirer/input")).default({ message: question }, context);
    return answer.trim();
  } catch (e) {
    // Ctrl-C or Ctrl-D at the prompt.
    if ((e as Error).name === "ExitPromptError")
      throw new CliError(EXIT.usage, "no answer given; not logged in");
    throw e;
  }
}

const readStdin = (cli: Cli) => readText("-", cli.io.stdin).trim();

function expiresIn(exp: number): string {
  const s = Math.round(exp - Date.now() / 1000);
  if (s <= 0) return "expired";
  return s >= 3600
    ? `${Math.floor(s / 3600)} h ${Math.floor((s % 3600) / 60)} min`
    : `${Math.floor(s / 60)} min ${s % 60} s`;
}

export function sessionCommands(y: Argv, cli: Cli, more: (auth: Argv) => Argv): Argv {
  return y
    .command(
      "auth",
      "log in, see who you are, and manage accounts, roles, policies, credentials and keys",
      (g) => {
        g.usage("$0 auth <command>")
          .demandCommand(1, "say which auth command")
          .example("$0 auth login --endpoint https://chamicore.example.org --client-id ops", "log in");
        g.command(
          "login",
          "get a token and keep it for this context: client credentials, or an external IdP's token to exchange",
          (c) =>
            c
              .option("client-id", { type: "string", describe: "service account id (asked on a terminal)" })
              .option("client-secret", {
                type: "string",
                describe: "its secret (asked, hidden, on a terminal)",
              })
              .option("client-secret-stdin", { type: "boolean", describe: "read the secret from stdin" })
              .option("subject-token-file", {
                type: "string",
                describe: "an external IdP's JWT to exchange (RFC 8693); '-' reads stdin",
              })
              .option("scope", { type: "string", describe: "ask for fewer scopes (space-separated)" })
              .conflicts("subject-token-file", ["client-id", "client-secret", "client-secret-stdin"])
              .example(
                "$0 auth login --endpoint https://chamicore.example.org --client-id ops",
                "asks for the secret",
              )
              .example(
                "printenv OPS_SECRET | $0 auth login --client-id ops --client-secret-stdin",
                "in a script",
              )
              .example(
                "$0 auth login --context lab --subject-token-file ~/.idp-token",
                "exchange an IdP token",
              ),
          run<LoginArgs>(async (a) => {
            const config = loadConfig(cli.env);
            const name = a.context ?? cli.env.CHAMICORE_CONTEXT ?? config["current-context"] ?? "default";
            const endpoint = a.endpoint ?? cli.env.CHAMICORE_ENDPOINT ?? config.contexts[name]?.endpoint;
            if (!endpoint)
              throw new CliError(
                EXIT.usage,
                "say which control API: --endpoint https://chamicore.example.org",
              );
            const tty = cli.io.stdin.isTTY === true;
            let ctx: Context = { endpoint };
            let cached: Awaited<ReturnType<typeof requestToken>>;
            if (a["subject-token-file"]) {
              const subject =
                a["subject-token-file"] === "-"
                  ? readStdin(cli)
                  : readText(a["subject-token-file"], cli.io.stdin).trim();
              cached = await requestToken(endpoint, {
                grant_type: TOKEN_EXCHANGE,
                subject_token: subject,
                subject_token_type: JWT_TYPE,
                ...(a.scope ? { scope: a.scope } : {}),
              });
            } else {
              const id =
                a["client-id"] ??
                config.contexts[name]?.["client-id"] ??
                (tty ? await ask(cli, "Client id:") : undefined);
              if (!id)
                throw new CliError(
                  EXIT.usage,
                  "say who logs in: --client-id (or run on a terminal to be asked)",
                );
              const secret =
                a["client-secret"] ??
                (a["client-secret-stdin"]
                  ? readStdin(cli)
                  : tty
                    ? await ask(cli, "Client secret:", true)
                    : undefined);
              if (!secret)
                throw new CliError(
                  EXIT.usage,
                  "give the secret: --client-secret-stdin (or run on a terminal to be asked)",
                );
              cached = await requestToken(
                endpoint,
                { grant_type: "client_credentials", ...(a.scope ? { scope: a.scope } : {}) },
                { id, secret },
              );
              ctx = { endpoint, "client-id": id, "client-secret": secret };
            }
            saveConfig(cli.env, {
              ...config,
              "current-context": name,
              contexts: { ...config.contexts, [name]: ctx },
            });
            saveTokens(cli.env, { ...loadTokens(cli.env), [name]: cached });
            const claims = claimsOf(cached.token);
            cli.io.stderr.write(
              `Logged in to ${endpoint} as ${String(claims.sub)} (context ${name}); the token expires in ${expiresIn(cached.expires)}${ctx["client-secret"] ? " and renews by itself" : ""}.\n`,
            );
          }),
        );
        g.command(
          "logout",
          "forget this context's token and stored secret",
          (c) => c.example("$0 auth logout --context lab", "log out of the lab context"),
          run<GlobalOptions>(async (a) => {
            const config = loadConfig(cli.env);
            const { name, ctx } = contextOf(config, a, cli.env);
            if (!name || !ctx) throw new CliError(EXIT.usage, "not logged in");
            const { [name]: _, ...tokens } = loadTokens(cli.env);
            saveTokens(cli.env, tokens);
            const { "client-secret": __, ...kept } = ctx;
            saveConfig(cli.env, { ...config, contexts: { ...config.contexts, [name]: kept } });
            cli.io.stderr.write(`Logged out of ${ctx.endpoint} (context ${name}).\n`);
          }),
        );
        g.command(
          "token",
          "print the current token (renewed if it has expired), for curl and scripts",
          (c) => c.example('curl -H "Authorization: Bearer $($0 auth token)" …', ""),
          run<GlobalOptions>(async (a) => {
            cli.io.stdout.write(`${await cli.session(a).token()}\n`);
          }),
        );
        g.command(
          "whoami",
          "who the current token says you are: subject, roles, scopes, expiry",
          (c) => c.example("$0 auth whoami -o json", "all of it, for a script"),
          run<GlobalOptions>(async (a) => {
            const s = cli.session(a);
            const claims = claimsOf(await s.token());
            const exp = Number(claims.exp);
            cli.printer(a).print(
              {
                endpoint: s.endpoint,
                context: s.contextName ?? null,
                subject: claims.sub,
                issuer: claims.iss,
                roles: claims.roles ?? [],
                scopes: String(claims.scope ?? "")
                  .split(" ")
                  .filter(Boolean),
                expires: Number.isFinite(exp) ? new Date(exp * 1000).toISOString() : null,
                expiresIn: Number.isFinite(exp) ? expiresIn(exp) : null,
              },
              [
                ["SUBJECT", (r) => (r as { subject: unknown }).subject],
                ["ROLES", (r) => (r as { roles: unknown }).roles],
                ["EXPIRES IN", (r) => (r as { expiresIn: unknown }).expiresIn],
                ["ENDPOINT", (r) => (r as { endpoint: unknown }).endpoint],
              ],
            );
          }),
        );
        return more(g);
      },
    )
    .command("context", "named control APIs and credentials in the config file", (g) =>
      g
        .usage("$0 context <command>")
        .example("$0 context use lab", "talk to the lab's control API from now on")
        .demandCommand(1, "say which context command")
        .command(
          ["list", "ls"],
          "list contexts (* marks the current one)",
          (c) => c.example("$0 context list", ""),
          run<GlobalOptions>((a) => {
            const config = loadConfig(cli.env);
            const rows = Object.entries(config.contexts).map(([name, c]) => ({
              current: name === config["current-context"],
              name,
              endpoint: c.endpoint,
              clientId: c["client-id"] ?? null,
            }));
            cli.printer(a).print(rows, [
              ["CURRENT", (r) => ((r as { current: boolean }).current ? "*" : "")],
              ["NAME", (r) => (r as { name: string }).name],
              ["ENDPOINT", (r) => (r as { endpoint: string }).endpoint],
              ["CLIENT", (r) => (r as { clientId: string }).clientId],
            ]);
          }),
        )
        .command(
          "use <name>",
          "make a context the current one",
          (c) =>
            c.positional("name", { type: "string", demandOption: true }).example("$0 context use lab", ""),
          run<GlobalOptions & { name: string }>((a) => {
            const config = loadConfig(cli.env);
            if (!config.contexts[a.name])
              throw new CliError(
                EXIT.usage,
                `no context '${a.name}'; chamicore auth login --context ${a.name} makes it`,
              );
            saveConfig(cli.env, { ...config, "current-context": a.name });
            cli.io.stderr.write(`Using context ${a.name} (${config.contexts[a.name]!.endpoint}).\n`);
          }),
        )
        .command(
          "delete <name>",
          "forget a context, its stored secret and token",
          (c) =>
            c
              .positional("name", { type: "string", demandOption: true })
              .example("$0 context delete old-lab", ""),
          run<GlobalOptions & { name: string }>((a) => {
            const config = loadConfig(cli.env);
            if (!config.contexts[a.name]) throw new CliError(EXIT.usage, `no context '${a.name}'`);
            const { [a.name]: _, ...contexts } = config.contexts;
            const current = config["current-context"] === a.name ? undefined : config["current-context"];
            saveConfig(cli.env, { ...config, contexts, "current-context": current });
            const { [a.name]: __, ...tokens } = loadTokens(cli.env);
            saveTokens(cli.env, tokens);
          }),
        ),
    );
}
