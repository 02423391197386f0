/**
 * `chamicore audit list`: the audit trail (docs/audit.md), newest first,
 * filtered by subject, resource, route, method, status and time. `--since`
 * and `--until` take an RFC 3339 time or a span back from now (`90m`,
 * `24h`, `7d`). Needs a token with `admin:audit`.
 */
import type { Argv } from "yargs";
import { unwrap } from "../../../shared/client";
import { type Cli, type GlobalOptions, run } from "../../../shared/node/cli/app";
import { CliError, EXIT } from "../../../shared/node/cli/errors";
import type { Column } from "../../../shared/node/cli/output";
import type { CommandModule } from "../groups";
import { col, commandGroup, filter } from "../groups";

type ListArgs = GlobalOptions & {
  subject?: string;
  resource?: string;
  route?: string;
  method?: string;
  status?: string;
  "request-id"?: string;
  since?: string;
  until?: string;
  "oldest-first"?: boolean;
  limit?: number;
  offset?: number;
};

const COLUMNS: Column[] = [
  col("TIME", "time"),
  col("SUBJECT", "subject"),
  col("CLIENT", "clientAddress"),
  col("METHOD", "method"),
  col("ROUTE", "route"),
  col("RESOURCE", "resourceId"),
  col("STATUS", "status"),
  col("ACTION", "action"),
];

const SPAN = /^(\d+)(s|m|h|d)$/;
const UNIT_MS = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;

/** `--since`/`--until` as the API takes it: an RFC 3339 time as given, or now minus a span. */
export function timeArg(flag: string, v: string | undefined, now = Date.now()): string | undefined {
  if (v === undefined) return undefined;
  const span = SPAN.exec(v.trim());
  if (span) return new Date(now - Number(span[1]) * UNIT_MS[span[2] as keyof typeof UNIT_MS]).toISOString();
  if (Number.isNaN(Date.parse(v)))
    throw new CliError(
      EXIT.usage,
      `--${flag} takes an RFC 3339 time (2026-12-01T08:00:00Z) or a span (90m, 24h, 7d)`,
    );
  return v;
}

function whole(flag: string, v: number | undefined): string | undefined {
  if (v === undefined) return undefined;
  if (!Number.isInteger(v) || v < 0) throw new CliError(EXIT.usage, `--${flag} takes a whole number`);
  return String(v);
}

function listCommand(y: Argv, cli: Cli): Argv {
  return y.command(
    ["list", "ls"],
    "audit records, newest first: who changed what, when, and how it ended",
    (c) =>
      c
        .usage(
          "$0 audit list [--subject S] [--resource ID] [--since T] [--until T] [--limit N]\n\n" +
            "One record per POST, PUT, PATCH and DELETE of the control API (refused ones too) and per token " +
            "issued or refused, and one per MCP tool call of an agent (--method MCP; ROUTE is the tool). Needs the " +
            "admin:audit scope (the admin role has it).",
        )
        .option("subject", filter("token subject, or the client id a token request tried"))
        .option("resource", filter("resource id (component, boot parameters, payload, account, …)"))
        .option("route", filter("route template, e.g. /hsm/v2/State/Components/:id, or an MCP tool"))
        .option("method", filter("POST, PUT, PATCH, DELETE, or MCP for agents' tool calls"))
        .option("status", filter("HTTP status answered, e.g. 403"))
        .option("request-id", filter("X-Request-Id of the request"))
        .option("since", {
          type: "string",
          describe: "from this time on: RFC 3339, or a span back from now (24h, 7d)",
        })
        .option("until", { type: "string", describe: "before this time: RFC 3339, or a span back from now" })
        .option("oldest-first", { type: "boolean", describe: "oldest first instead of newest first" })
        .option("limit", { type: "number", describe: "at most this many (default 100)" })
        .option("offset", { type: "number", describe: "skip this many" })
        .example("$0 audit list --since 24h", "the last day's changes")
        .example("$0 audit list --resource x1000c0s0b0n0 --oldest-first", "a node's history, in order")
        .example(
          "$0 audit list --subject ci-pipeline --status 401,403 -o json",
          "one account's refusals, as JSON",
        ),
    run<ListArgs>(async (a) => {
      const given: Record<string, string | undefined> = {
        subject: a.subject,
        resourceId: a.resource,
        route: a.route,
        method: a.method,
        status: a.status === undefined ? undefined : String(a.status),
        requestId: a["request-id"],
        since: timeArg("since", a.since),
        until: timeArg("until", a.until),
        sort: a["oldest-first"] ? "time" : undefined,
        limit: whole("limit", a.limit),
        offset: whole("offset", a.offset),
      };
      const query = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) as Record<
        string,
        string
      >;
      const { data } = await unwrap(cli.session(a).client.GET("/audit/v1/events", { params: { query } }));
      cli.printer(a).print(data, COLUMNS);
    }),
  );
}

export const auditCommands: CommandModule = (y, cli) =>
  commandGroup(
    y,
    "audit",
    "the audit trail: every change and token request, with who, what and how it ended",
    [
      ["$0 audit list --since 7d --method DELETE", "what was deleted this week"],
      ["$0 audit list --subject ops --limit 20", "one account's last 20 requests that changed something"],
      ["$0 audit list --method MCP --since 1h", "what AI agents did in the last hour, tool by tool"],
    ],
    (g) => listCommand(g, cli),
  );
