/**
 * Administering authentication, inside `chamicore auth`:
 *
 *   service-accounts list|get|create|update|delete|reset-secret
 *   roles list|add-member|remove-member
 *   policies list|create|delete
 *   credentials list|get|create|update|delete
 *   revocations list, revoke
 *   keys list|rotate
 *
 * Every call goes through the typed client (shared/client) on the paths of
 * the OpenAPI document. A service account's secret is shown once, in the
 * answer that makes it (create, reset-secret). Device-credential secrets are
 * read only by `credentials get --show-secret` (the API logs each such read).
 */

import type { Argv } from "yargs";
import { ApiProblem, type Schemas, unwrap } from "../../../shared/client";
import { type Cli, type GlobalOptions, run } from "../../../shared/node/cli/app";
import { loadTokens, saveTokens } from "../../../shared/node/cli/config";
import { CliError, EXIT } from "../../../shared/node/cli/errors";
import type { Column } from "../../../shared/node/cli/output";
import { claimsOf } from "../../../shared/node/cli/session";
import type { CommandModule } from "../groups";
import { readText } from "../input";
import { bodyOf } from "../resource";

type Args = GlobalOptions & Record<string, unknown>;
type Res<S> = { metadata: { id: string }; spec: S };

/** A column over an enveloped resource's spec. */
const specCol = <S>(header: string, f: (s: S) => unknown): Column => [
  header,
  (r) => f((r as Res<S>).spec ?? ({} as S)),
];
/** A column over a plain item (roles, keys, revocations are not enveloped). */
const itemCol = <T>(header: string, f: (t: T) => unknown): Column => [header, (r) => f(r as T)];

/** `--x a --x b,c` → [a, b, c]; undefined when not given. */
function many(v: unknown): string[] | undefined {
  if (v === undefined) return undefined;
  return [v]
    .flat()
    .flatMap((s) => String(s).split(","))
    .map((s) => s.trim())
    .filter(Boolean);
}

/** A page's query: the filters that were given, as the strings the API takes. */
const pageQuery = (a: Args, filters: Record<string, unknown>) =>
  Object.fromEntries(
    Object.entries({ ...filters, limit: a.limit, offset: a.offset }).flatMap(([k, v]) =>
      v === undefined ? [] : [[k, String(v)]],
    ),
  );

const pageOptions = (y: Argv) =>
  y
    .option("limit", { type: "number", describe: "at most this many" })
    .option("offset", { type: "number", describe: "skip this many" });

const bodyOptions = (y: Argv) =>
  y
    .option("file", { alias: "f", type: "string", describe: "JSON or YAML document ('-' reads stdin)" })
    .option("set", { type: "string", array: true, describe: "field=value (repeatable; dotted keys nest)" });

/** Standard input as it is (a secret is not a YAML document), less one final line break. */
function readSecret(cli: Cli): string {
  const text = readText("-", cli.io.stdin);
  const secret = text.replace(/\r?\n$/, "");
  if (!secret) throw new CliError(EXIT.usage, "standard input holds no secret");
  return secret;
}

/** `site=east` or `site:east` (tag keys hold neither '=' nor ':'). */
function tagPair(raw: string): [string, string] {
  const at = raw.search(/[=:]/);
  if (at <= 0) throw new CliError(EXIT.usage, `tags are key=value, not '${raw}'`);
  return [raw.slice(0, at), raw.slice(at + 1)];
}

const tagsText = (tags: Record<string, string> | undefined) =>
  Object.entries(tags ?? {})
    .map(([k, v]) => `${k}=${v}`)
    .join(",");

// ---------- service accounts ----------

type Account = Schemas["ServiceAccountWithSecretSpec"];
const ACCOUNT_COLUMNS: Column[] = [
  specCol<Account>("ID", (s) => s.id),
  specCol<Account>("ROLES", (s) => s.roles),
  specCol<Account>("SCOPE CAP", (s) => s.scopes ?? "-"),
  specCol<Account>("ENABLED", (s) => s.enabled),
  specCol<Account>("DESCRIPTION", (s) => s.description),
];
const SECRET_COLUMNS: Column[] = [
  specCol<Account>("ID", (s) => s.id),
  specCol<Account>("ROLES", (s) => s.roles),
  specCol<Account>("ENABLED", (s) => s.enabled),
  specCol<Account>("CLIENT SECRET", (s) => s.clientSecret),
];

const accountFields = (y: Argv) =>
  y
    .option("description", { type: "string", describe: "what the account is for" })
    .option("role", { type: "string", describe: "its roles (repeatable or comma-separated)" })
    .option("scope", {
      type: "string",
      describe: "cap its tokens to these scope patterns (repeatable or comma-separated)",
    })
    .option("enabled", { type: "boolean", describe: "may obtain tokens (--no-enabled disables)" });

const accountBody = (a: Args) =>
  Object.fromEntries(
    Object.entries({
      description: a.description,
      roles: many(a.role),
      scopes: many(a.scope),
      enabled: a.enabled,
    }).filter(([, v]) => v !== undefined),
  );

/** Prints an account with the secret it has just been given: the one time it is shown. */
function printSecret(cli: Cli, a: Args, doc: Schemas["ServiceAccountWithSecret"]) {
  const printer = cli.printer(a);
  printer.print(doc, SECRET_COLUMNS);
  if (printer.format === "table")
    printer.err(
      `Store the client secret of ${doc.spec.id} now: it will not be shown again (reset-secret makes a new one).`,
    );
}

function serviceAccounts(y: Argv, cli: Cli): Argv {
  const path = "/auth/v1/service-accounts" as const;
  const item = "/auth/v1/service-accounts/{id}" as const;
  return y.command(
    ["service-accounts", "sa"],
    "OAuth clients for machines and scripts: their roles, scope cap and secret",
    (g) =>
      g
        .usage("$0 auth service-accounts <command>\n\nOAuth clients for machines and scripts")
        .demandCommand(1, "say what to do with service accounts")
        .example("$0 auth service-accounts create --id ci --role operator", "make an account")
        .example("$0 auth service-accounts list --role admin", "who is an admin")
        .command(
          ["list", "ls"],
          "list service accounts",
          (c) =>
            pageOptions(
              c
                .option("role", { type: "string", describe: "holding this role" })
                .option("enabled", { type: "boolean", describe: "enabled (--no-enabled: disabled) only" }),
            )
              .example("$0 auth service-accounts list", "all of them")
              .example("$0 auth service-accounts list --role viewer --no-enabled", "disabled viewers"),
          run<Args>(async (a) => {
            const query = pageQuery(a, { role: a.role, enabled: a.enabled });
            const { data } = await unwrap(cli.session(a).client.GET(path, { params: { query } }));
            cli.printer(a).print(data, ACCOUNT_COLUMNS);
          }),
        )
        .command(
          "get <id>",
          "show a service account (never its secret)",
          (c) =>
            c
              .positional("id", { type: "string", describe: "its client id" })
              .example("$0 auth service-accounts get ci -o yaml", ""),
          run<Args & { id: string }>(async (a) => {
            const { data } = await unwrap(
              cli.session(a).client.GET(item, { params: { path: { id: a.id } } }),
            );
            cli.printer(a).print(data, ACCOUNT_COLUMNS);
          }),
        )
        .command(
          "create",
          "create a service account; its secret is printed this once",
          (c) =>
            bodyOptions(
              accountFields(c.option("id", { type: "string", describe: "client id (default sa-<hex>)" })),
            )
              .example(
                "$0 auth service-accounts create --id ci --role operator --description 'CI pipeline'",
                "",
              )
              .example(
                "$0 auth service-accounts create --id exporter --role viewer --scope read:metrics -o json | jq -r .spec.clientSecret",
                "keep only the secret",
              ),
          run<Args>(async (a) => {
            const body = bodyOf(
              { body: (x) => ({ ...(x.id ? { id: x.id } : {}), ...accountBody(x) }) },
              a,
              cli,
            );
            const { data } = await unwrap(
              cli.session(a).client.POST(path, { body: body as Schemas["ServiceAccountCreate"] }),
            );
            printSecret(cli, a, data);
          }),
        )
        .command(
          "update <id>",
          "change a service account (JSON Merge Patch); tokens already issued keep their scopes",
          (c) =>
            bodyOptions(accountFields(c.positional("id", { type: "string", describe: "its client id" })))
              .example("$0 auth service-accounts update ci --role operator,viewer", "set its roles")
              .example("$0 auth service-accounts update ci --no-enabled", "no new tokens for it")
              .example("$0 auth service-accounts update ci --set scopes=null", "remove the scope cap"),
          run<Args & { id: string }>(async (a) => {
            const body = bodyOf({ body: accountBody }, a, cli);
            if (Object.keys(body).length === 0)
              throw new CliError(EXIT.usage, "nothing to change: give a field flag, -f or --set");
            const api = cli.session(a).client;
            const one = { params: { path: { id: a.id } } };
            // Guarded by the ETag just read: a change made meanwhile is not overwritten.
            const { response } = await unwrap(api.GET(item, one));
            const { data } = await unwrap(
              api.PATCH(item, {
                ...one,
                body: body as Schemas["ServiceAccountPatch"],
                headers: {
                  "Content-Type": "application/merge-patch+json",
                  "If-Match": response.headers.get("ETag") ?? "*",
                },
              }),
            );
            cli.printer(a).print(data, ACCOUNT_COLUMNS);
          }),
        )
        .command(
          "delete <id..>",
          "delete service accounts and their role memberships",
          (c) =>
            c
              .positional("id", { type: "string", array: true, describe: "client ids" })
              .example("$0 auth service-accounts delete ci old-exporter", ""),
          run<Args & { id: string[] }>(async (a) => {
            const api = cli.session(a).client;
            const printer = cli.printer(a);
            for (const id of a.id) {
              await unwrap(api.DELETE(item, { params: { path: { id } } }));
              printer.err(`deleted service account ${id}`);
            }
          }),
        )
        .command(
          "reset-secret <id>",
          "give a service account a new secret (printed this once); the old one stops working at once",
          (c) =>
            c
              .positional("id", { type: "string", describe: "its client id" })
              .example("$0 auth service-accounts reset-secret ci", "")
              .example("$0 auth service-accounts reset-secret ci -o json | jq -r .spec.clientSecret", ""),
          run<Args & { id: string }>(async (a) => {
            const { data } = await unwrap(
              cli.session(a).client.POST("/auth/v1/service-accounts/{id}/secret", {
                params: { path: { id: a.id } },
              }),
            );
            printSecret(cli, a, data);
          }),
        ),
  );
}

// ---------- roles and policies ----------

type Role = Schemas["RoleSpec"];
const ROLE_COLUMNS: Column[] = [
  itemCol<Role>("ROLE", (r) => r.name),
  itemCol<Role>("MEMBERS", (r) => r.members),
  itemCol<Role>("SCOPES", (r) => r.scopes),
];

function roles(y: Argv, cli: Cli): Argv {
  return y.command("roles", "roles: the scopes their policies grant, and who holds them", (g) =>
    g
      .usage("$0 auth roles <command>\n\nRoles: the scopes their policies grant, and who holds them")
      .demandCommand(1, "say what to do with roles")
      .example("$0 auth roles add-member operator ci", "make ci an operator")
      .command(
        ["list", "ls"],
        "list roles with their scope patterns and members",
        (c) =>
          c.example("$0 auth roles list", "").example("$0 auth roles list -o json | jq '.items[].name'", ""),
        run<Args>(async (a) => {
          const { data } = await unwrap(cli.session(a).client.GET("/auth/v1/roles", {}));
          cli.printer(a).print(data, ROLE_COLUMNS);
        }),
      )
      .command(
        "add-member <role> <subject>",
        "grant a role to a subject (a service account id or an external subject such as ext:alice); from its next token",
        (c) =>
          c
            .positional("role", { type: "string", describe: "role name" })
            .positional("subject", { type: "string", describe: "service account id or external subject" })
            .example("$0 auth roles add-member operator ci", "")
            .example("$0 auth roles add-member admin corp:alice", "an IdP user"),
        run<Args & { role: string; subject: string }>(async (a) => {
          const { data } = await unwrap(
            cli.session(a).client.POST("/auth/v1/roles/{role}/members", {
              params: { path: { role: a.role } },
              body: { subject: a.subject },
            }),
          );
          const printer = cli.printer(a);
          printer.print(data, ROLE_COLUMNS);
          if (printer.format === "table")
            printer.err(`${a.subject} is a member of ${a.role}; its next token carries the role.`);
        }),
      )
      .command(
        "remove-member <role> <subject>",
        "take a role from a subject (tokens already issued keep it until they expire)",
        (c) =>
          c
            .positional("role", { type: "string", describe: "role name" })
            .positional("subject", { type: "string", describe: "service account id or external subject" })
            .example("$0 auth roles remove-member operator ci", ""),
        run<Args & { role: string; subject: string }>(async (a) => {
          await unwrap(
            cli.session(a).client.DELETE("/auth/v1/roles/{role}/members/{subject}", {
              params: { path: { role: a.role, subject: a.subject } },
            }),
          );
          cli.printer(a).err(`removed ${a.subject} from role ${a.role}`);
        }),
      ),
  );
}

type Policy = Schemas["PolicySpec"];
const POLICY_COLUMNS: Column[] = [
  ["ID", (r) => (r as Res<Policy>).metadata?.id],
  specCol<Policy>("ROLE", (s) => s.role),
  specCol<Policy>("SCOPE", (s) => s.scope),
];

function policies(y: Argv, cli: Cli): Argv {
  const path = "/auth/v1/policies" as const;
  return y.command("policies", "policies: which scope patterns each role grants", (g) =>
    g
      .usage(
        "$0 auth policies <command>\n\nPolicies: which scope patterns (read:*, write:components) each role grants",
      )
      .demandCommand(1, "say what to do with policies")
      .example("$0 auth policies create operator read:metrics", "")
      .command(
        ["list", "ls"],
        "list policies",
        (c) =>
          c
            .option("role", {
              type: "string",
              describe: "only this role's (filtered here; the API lists all)",
            })
            .example("$0 auth policies list", "")
            .example("$0 auth policies list --role operator", ""),
        run<Args>(async (a) => {
          const { data } = await unwrap(cli.session(a).client.GET(path, {}));
          const items = a.role ? data.items.filter((p) => p.spec.role === a.role) : data.items;
          cli.printer(a).print({ ...data, metadata: { total: items.length }, items }, POLICY_COLUMNS);
        }),
      )
      .command(
        "create <role> <scope>",
        "grant a role a scope or a scope pattern (from its members' next tokens)",
        (c) =>
          c
            .positional("role", { type: "string", describe: "role name (a new name makes a new role)" })
            .positional("scope", { type: "string", describe: "scope or pattern: read:components, read:*, *" })
            .example("$0 auth policies create operator read:metrics", "")
            .example("$0 auth policies create auditor 'read:*'", "a new role that reads everything"),
        run<Args & { role: string; scope: string }>(async (a) => {
          const { data } = await unwrap(
            cli.session(a).client.POST(path, { body: { role: a.role, scope: a.scope } }),
          );
          cli.printer(a).print(data, POLICY_COLUMNS);
        }),
      )
      .command(
        "delete [id..]",
        "delete policies, by id or by --role and --scope",
        (c) =>
          c
            .positional("id", { type: "string", array: true, describe: "policy ids (auth policies list)" })
            .option("role", { type: "string", describe: "with --scope: the policy granting this role…" })
            .option("scope", { type: "string", describe: "…this scope pattern" })
            .implies("role", "scope")
            .implies("scope", "role")
            .example("$0 auth policies delete 4f1c2a", "by id")
            .example("$0 auth policies delete --role operator --scope read:metrics", "by what it grants"),
        run<Args & { id?: string[]; role?: string; scope?: string }>(async (a) => {
          const api = cli.session(a).client;
          const ids = [...(a.id ?? [])];
          if (a.role !== undefined) {
            const { data } = await unwrap(api.GET(path, {}));
            const found = data.items.find((p) => p.spec.role === a.role && p.spec.scope === a.scope);
            if (!found)
              throw new CliError(EXIT.failed, `no policy grants role ${a.role} the scope ${a.scope}`);
            ids.push(found.metadata.id);
          }
          if (ids.length === 0)
            throw new CliError(EXIT.usage, "say which policy: its id, or --role and --scope");
          const printer = cli.printer(a);
          for (const id of ids) {
            await unwrap(api.DELETE("/auth/v1/policies/{id}", { params: { path: { id } } }));
            printer.err(`deleted policy ${id}`);
          }
        }),
      ),
  );
}

// ---------- device credentials ----------

type Credential = Schemas["CredentialSpec"];
const CREDENTIAL_TYPES = ["redfish", "ipmi", "snmp", "ssh", "other"] as const;
const CREDENTIAL_COLUMNS: Column[] = [
  specCol<Credential>("ID", (s) => s.id),
  specCol<Credential>("NAME", (s) => s.name),
  specCol<Credential>("TYPE", (s) => s.type),
  specCol<Credential>("USERNAME", (s) => s.username),
  specCol<Credential>("TAGS", (s) => tagsText(s.tags)),
];
const WITH_SECRET_COLUMNS: Column[] = [...CREDENTIAL_COLUMNS, specCol<Credential>("SECRET", (s) => s.secret)];

const credentialFields = (y: Argv) =>
  bodyOptions(y)
    .option("name", { type: "string", describe: "what it is for" })
    .option("type", { choices: CREDENTIAL_TYPES, describe: "protocol" })
    .option("username", { type: "string", describe: "user name" })
    .option("tag", { type: "string", describe: "key=value (repeatable)" })
    .option("secret-stdin", { type: "boolean", describe: "read the secret (password, key) from stdin" });

/** The credential fields given as flags (tags merge into `tags`). */
const credentialFlags = (cli: Cli, a: Args, tags: Record<string, string>) =>
  Object.fromEntries(
    Object.entries({
      name: a.name,
      type: a.type,
      username: a.username,
      secret: a["secret-stdin"] ? readSecret(cli) : undefined,
      tags: a.tag === undefined ? undefined : { ...tags, ...Object.fromEntries(many(a.tag)!.map(tagPair)) },
    }).filter(([, v]) => v !== undefined),
  );

const REPLACE_FIELDS = ["id", "name", "type", "username", "secret", "tags"] as const;

function credentials(y: Argv, cli: Cli): Argv {
  const path = "/auth/v1/credentials" as const;
  const item = "/auth/v1/credentials/{id}" as const;
  return y.command(
    ["credentials", "creds"],
    "device credentials (BMC user names and secrets), sealed at rest",
    (g) =>
      g
        .usage(
          "$0 auth credentials <command>\n\nDevice credentials (BMC user names and secrets), sealed at rest",
        )
        .demandCommand(1, "say what to do with credentials")
        .example(
          "printenv BMC_PASSWORD | $0 auth credentials create --id bmc-east --name 'east BMCs' --type redfish --username root --tag site=east --secret-stdin",
          "",
        )
        .command(
          ["list", "ls"],
          "list credentials (never their secrets)",
          (c) =>
            pageOptions(
              c
                .option("tag", { type: "string", describe: "tagged key=value (repeatable: any of them)" })
                .option("type", { choices: CREDENTIAL_TYPES, describe: "of this type" })
                .option("name", { type: "string", describe: "with this name" })
                .option("username", { type: "string", describe: "with this user name" }),
            )
              .example("$0 auth credentials list", "")
              .example("$0 auth credentials list --tag site=east --type redfish", ""),
          run<Args>(async (a) => {
            const tag = many(a.tag)
              ?.map((t) => tagPair(t).join(":"))
              .join(",");
            const query = pageQuery(a, { tag, type: a.type, name: a.name, username: a.username });
            const { data } = await unwrap(cli.session(a).client.GET(path, { params: { query } }));
            cli.printer(a).print(data, CREDENTIAL_COLUMNS);
          }),
        )
        .command(
          "get <id>",
          "show a credential; its secret only with --show-secret (the API logs that read)",
          (c) =>
            c
              .positional("id", { type: "string", describe: "credential id" })
              .option("show-secret", {
                type: "boolean",
                describe: "include the secret (needs the read:credentials scope)",
              })
              .example("$0 auth credentials get bmc-east", "")
              .example("$0 auth credentials get bmc-east --show-secret -o json | jq -r .spec.secret", ""),
          run<Args & { id: string; "show-secret"?: boolean }>(async (a) => {
            const api = cli.session(a).client;
            if (a["show-secret"]) {
              const { data } = await unwrap(api.GET(item, { params: { path: { id: a.id } } }));
              if (data.spec.secret === undefined)
                throw new CliError(
                  EXIT.auth,
                  `the API did not show the secret of ${a.id}: reading it needs the read:credentials scope`,
                );
              cli.printer(a).print(data, WITH_SECRET_COLUMNS);
              return;
            }
            // Through the list, which never carries secrets: a plain look is not logged as a secret read.
            const { data } = await unwrap(api.GET(path, { params: { query: { id: a.id } } }));
            const found = data.items.find((r) => r.spec.id === a.id);
            if (!found) throw new ApiProblem(404, { title: "Not Found", detail: `no credential '${a.id}'` });
            cli.printer(a).print(found, CREDENTIAL_COLUMNS);
          }),
        )
        .command(
          "create",
          "store a credential (the secret from stdin or -f; it is not shown back)",
          (c) =>
            credentialFields(c.option("id", { type: "string", describe: "id (default cred-<hex>)" }))
              .example(
                "printenv BMC_PASSWORD | $0 auth credentials create --id bmc-east --name 'east BMCs' --type redfish --username root --tag site=east --secret-stdin",
                "",
              )
              .example("$0 auth credentials create -f bmc-east.yaml", "name, type, username, secret, tags"),
          run<Args>(async (a) => {
            const body = bodyOf(
              { body: (x) => ({ ...(x.id ? { id: x.id } : {}), ...credentialFlags(cli, x, {}) }) },
              a,
              cli,
            );
            if (body.secret === undefined)
              throw new CliError(EXIT.usage, "give the secret: --secret-stdin, or secret in -f FILE");
            const { data } = await unwrap(
              cli.session(a).client.POST(path, { body: body as Schemas["CredentialCreate"] }),
            );
            cli.printer(a).print(data, CREDENTIAL_COLUMNS);
          }),
        )
        .command(
          "update <id>",
          "change a credential: the fields given replace the current ones (PUT, guarded by its ETag)",
          (c) =>
            credentialFields(c.positional("id", { type: "string", describe: "credential id" }))
              .option("remove-tag", { type: "string", describe: "drop this tag key (repeatable)" })
              .example(
                "printenv NEW_PASSWORD | $0 auth credentials update bmc-east --secret-stdin",
                "new secret",
              )
              .example("$0 auth credentials update bmc-east --username admin --tag rack=x1000", ""),
          run<Args & { id: string }>(async (a) => {
            const api = cli.session(a).client;
            const one = { params: { path: { id: a.id } } };
            // The whole credential is replaced: start from what is there now, with its ETag.
            const { data: current, response } = await unwrap(api.GET(item, one));
            const tags = { ...current.spec.tags };
            for (const k of many(a["remove-tag"]) ?? []) delete tags[k];
            const changes = bodyOf({ body: (x) => credentialFlags(cli, x, tags) }, a, cli);
            if (Object.keys(changes).length === 0 && a["remove-tag"] === undefined)
              throw new CliError(EXIT.usage, "nothing to change: give a field flag, -f or --set");
            const merged: Record<string, unknown> = { ...current.spec, tags, ...changes };
            if (merged.secret === undefined)
              throw new CliError(
                EXIT.usage,
                `give the secret (--secret-stdin): this token cannot read the current secret of ${a.id} to keep it`,
              );
            const body = Object.fromEntries(
              REPLACE_FIELDS.flatMap((k) => (k in merged ? [[k, merged[k]]] : [])),
            );
            const etag = response.headers.get("ETag");
            if (!etag) throw new CliError(EXIT.failed, `the API gave no ETag for credential ${a.id}`);
            const { data } = await unwrap(
              api.PUT(item, {
                ...one,
                body: body as Schemas["CredentialReplace"],
                headers: { "If-Match": etag },
              }),
            );
            cli.printer(a).print(data, CREDENTIAL_COLUMNS);
          }),
        )
        .command(
          "delete <id..>",
          "delete credentials",
          (c) =>
            c
              .positional("id", { type: "string", array: true, describe: "credential ids" })
              .example("$0 auth credentials delete bmc-east", ""),
          run<Args & { id: string[] }>(async (a) => {
            const api = cli.session(a).client;
            const printer = cli.printer(a);
            for (const id of a.id) {
              await unwrap(api.DELETE(item, { params: { path: { id } } }));
              printer.err(`deleted credential ${id}`);
            }
          }),
        ),
  );
}

// ---------- revocations ----------

type Revocation = Schemas["RevocationSpec"];
const REVOCATION_COLUMNS: Column[] = [
  itemCol<Revocation>("JTI", (r) => r.jti),
  itemCol<Revocation>("EXPIRES AT", (r) => r.expiresAt),
  itemCol<Revocation>("REASON", (r) => r.reason),
];

function revocations(y: Argv, cli: Cli): Argv {
  return y
    .command("revocations", "revoked tokens that have not expired yet", (g) =>
      g
        .usage("$0 auth revocations <command>\n\nRevoked tokens that have not expired yet")
        .demandCommand(1, "say what to do with revocations")
        .example("$0 auth revocations list", "")
        .command(
          ["list", "ls"],
          "list revocations",
          (c) =>
            c
              .option("active", {
                type: "boolean",
                describe: "only those still in force (expired ones are pruned anyway)",
              })
              .example("$0 auth revocations list --active", "")
              .example("$0 auth revocations list -o json | jq -r '.items[].jti'", ""),
          run<Args>(async (a) => {
            const query = a.active ? { active: "true" as const } : {};
            const { data } = await unwrap(
              cli.session(a).client.GET("/auth/v1/revocations", { params: { query } }),
            );
            cli.printer(a).print(data, REVOCATION_COLUMNS);
          }),
        ),
    )
    .command(
      "revoke [jwt]",
      "revoke a token (it fails from the very next request), given itself or its jti",
      (c) =>
        c
          // Not named `token`: that is the global option giving the caller's own token.
          .positional("jwt", { type: "string", describe: "the token to revoke ('-' reads stdin)" })
          .option("jti", { type: "string", describe: "its id instead (auth revocations list, the logs)" })
          .option("reason", { type: "string", describe: "why (kept with the revocation)" })
          .option("expires-at", {
            type: "string",
            describe:
              "when it would expire (ISO 8601): the revocation is pruned then (default: from the token, or the longest token lifetime)",
          })
          .conflicts("jwt", "jti")
          .example("$0 auth revoke eyJhbGciOi… --reason 'leaked in a CI log'", "")
          .example("$0 auth revoke --jti 3f2a9c0e-… --reason 'left the team'", ""),
      run<Args & { jwt?: string; jti?: string; reason?: string; "expires-at"?: string }>(async (a) => {
        let jti = a.jti;
        let expiresAt = a["expires-at"];
        // yargs hands a positional '-' over as ''.
        const raw = a.jwt === "-" || a.jwt === "" ? readSecret(cli).trim() : a.jwt;
        if (raw !== undefined) {
          let claims: Record<string, unknown>;
          try {
            claims = claimsOf(raw);
          } catch {
            throw new CliError(EXIT.usage, "that is not a token (a JWT); give its jti with --jti");
          }
          if (typeof claims.jti !== "string")
            throw new CliError(EXIT.usage, "the token has no jti to revoke");
          jti = claims.jti;
          if (expiresAt === undefined && typeof claims.exp === "number")
            expiresAt = new Date(claims.exp * 1000).toISOString();
        }
        if (!jti) throw new CliError(EXIT.usage, "say which token: the token itself, or --jti");
        const { data } = await unwrap(
          cli.session(a).client.POST("/auth/v1/token/revoke", {
            body: { jti, reason: a.reason ?? "", ...(expiresAt ? { expiresAt } : {}) },
          }),
        );
        const printer = cli.printer(a);
        printer.print(data, [
          specCol<Revocation>("JTI", (s) => s.jti),
          specCol<Revocation>("EXPIRES AT", (s) => s.expiresAt),
          specCol<Revocation>("REASON", (s) => s.reason),
        ]);
        if (printer.format === "table") printer.err(`revoked ${jti}: it fails from the next request on`);
      }),
    );
}

// ---------- signing keys ----------

type SigningKey = Schemas["SigningKeySpec"];
const KEY_COLUMNS: Column[] = [
  itemCol<SigningKey>("KID", (k) => k.kid),
  itemCol<SigningKey>("ALG", (k) => k.alg),
  itemCol<SigningKey>("ACTIVE", (k) => k.active),
  itemCol<SigningKey>("RETIRED AT", (k) => k.retiredAt),
  itemCol<SigningKey>("PUBLISHED UNTIL", (k) => k.publishedUntil),
];

function keys(y: Argv, cli: Cli): Argv {
  return y.command("keys", "token signing keys: which are published, and rotation through the API", (g) =>
    g
      .usage(
        "$0 auth keys <command>\n\nToken signing keys: which are published, and rotation through the API",
      )
      .demandCommand(1, "say what to do with keys")
      .example("$0 auth keys rotate", "sign new tokens with a new key")
      .command(
        ["list", "ls"],
        "list the published signing keys (no key material)",
        (c) =>
          c.example("$0 auth keys list", "").example("$0 auth keys list -o json | jq -r '.items[].kid'", ""),
        run<Args>(async (a) => {
          const { data } = await unwrap(cli.session(a).client.GET("/auth/v1/keys", {}));
          cli.printer(a).print(data, KEY_COLUMNS);
        }),
      )
      .command(
        "rotate",
        "sign new tokens with a new key; older ones keep verifying their tokens until these expire",
        (c) =>
          c
            .option("revoke-previous", {
              type: "boolean",
              describe: "drop every older key now (a leaked key): their tokens fail at once",
            })
            .option("bundle", {
              type: "boolean",
              describe:
                "rotate the key that signs air-gap bundles instead (edges must trust the new one: chamicore export --public-key)",
            })
            .example("$0 auth keys rotate", "")
            .example("$0 auth keys rotate --revoke-previous", "after a leak")
            .example("$0 auth keys rotate --bundle", "a new bundle signing key"),
        run<Args & { "revoke-previous"?: boolean; bundle?: boolean }>(async (a) => {
          const session = cli.session(a);
          const revokePrevious = a["revoke-previous"] === true;
          const purpose = a.bundle === true ? "bundle" : "token";
          const { data } = await unwrap(
            session.client.POST("/auth/v1/keys/rotate", { body: { revokePrevious, purpose } }),
          );
          if (
            purpose === "token" &&
            revokePrevious &&
            !a.token &&
            !cli.env.CHAMICORE_TOKEN &&
            session.contextName
          ) {
            // This context's token was signed by a dropped key: the next command gets a new one.
            const { [session.contextName]: _, ...kept } = loadTokens(cli.env);
            saveTokens(cli.env, kept);
          }
          const printer = cli.printer(a);
          printer.print(data, KEY_COLUMNS);
          const active = data.items.find((k) => k.active);
          if (printer.format === "table")
            printer.err(
              purpose === "bundle"
                ? `new bundle signing key ${active?.kid ?? "?"}: give edges its public key (chamicore export --public-key) before they import a bundle it signs`
                : `new signing key ${active?.kid ?? "?"}${revokePrevious ? "; older keys dropped, their tokens fail now" : ""}`,
            );
        }),
      ),
  );
}

export const authAdminCommands: CommandModule = (y, cli) =>
  keys(revocations(credentials(policies(roles(serviceAccounts(y, cli), cli), cli), cli), cli), cli);
