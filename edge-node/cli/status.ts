/**
 * `chamicore edge status --url`: what an edge node says of itself. The
 * control API does not track edges; each edge answers `/status` (public,
 * like everything an edge serves), so the CLI asks the edge directly.
 */
import type { Cli, GlobalOptions } from "../../shared/node/cli/app";
import { CliError, EXIT } from "../../shared/node/cli/errors";

interface EdgeStatus {
  position: number;
  head: number;
  mode: string;
  lastContact: string | null;
  lastEventTime: string | null;
  snapshotAt: string | null;
  /** Absent from an edge older than this CLI (as `lagEvents`, `lagSeconds`). */
  stalled?: { since: string; reason: string; detail: string } | null;
  lagEvents?: number;
  lagSeconds?: number;
  /** Absent from an edge older than this CLI. */
  apply?: { ok: boolean; reason: string | null; error: string | null; since: string | null };
  kea: {
    state: string;
    strategy: string | null;
    reservations: number | null;
    problems: { total: number };
  } | null;
  agent: { site: string; state: string; running: number; finished: number; failed: number } | null;
  /** What fed the replica last (absent from an edge older than this CLI). */
  feed?: { source: string | null; by: string | null; at: string | null };
}

export async function edgeStatus(cli: Cli, a: GlobalOptions & { url: string }) {
  const base = a.url.replace(/\/+$/, "");
  let res: Response;
  try {
    res = await fetch(`${base}/status`, { signal: AbortSignal.timeout(10_000) });
  } catch (e) {
    throw new CliError(EXIT.failed, `cannot reach the edge at ${base}: ${(e as Error).message}`);
  }
  if (!res.ok) throw new CliError(EXIT.failed, `the edge at ${base} answered HTTP ${res.status}`);
  const s = (await res.json()) as EdgeStatus;
  const printer = cli.printer(a);
  // Red only for a person at a terminal table (https://no-color.org).
  const colour = printer.format === "table" && cli.io.stdout.isTTY === true && !cli.env.NO_COLOR;
  const red = (t: string) => (colour ? `\x1b[31m${t}\x1b[0m` : t);
  const lag = Math.max(0, s.head - s.position);
  printer.print({ edge: base, ...s, lag }, [
    ["EDGE", () => base],
    ["POSITION", () => s.position],
    ["HEAD", () => s.head],
    ["LAG", () => (s.lagSeconds === undefined ? lag : `${lag} (${Math.round(s.lagSeconds)} s)`)],
    ["MODE", () => s.mode],
    ["FED BY", () => (s.feed?.by ? `${s.feed.by} at ${s.feed.at ?? "?"}` : "-")],
    ["SOURCE", () => s.feed?.source ?? "-"],
    ["LAST CONTACT", () => s.lastContact],
    [
      "KEA",
      () =>
        s.kea
          ? `${s.kea.state} (${s.kea.reservations ?? "?"} reservations, ${s.kea.problems.total} problems)`
          : "off",
    ],
    [
      "AGENT",
      () =>
        s.agent
          ? `site ${s.agent.site}: ${s.agent.state} (${s.agent.running} running, ${s.agent.finished} done, ${s.agent.failed} failed)`
          : "off (no NATS)",
    ],
    // A stalled stream or a failing replica: the edge still serves, but what it serves may be
    // getting old. Say why, and since when (last: they are the widest).
    [
      "STREAM",
      () =>
        s.stalled ? red(`STALLED since ${s.stalled.since}: ${s.stalled.reason} (polling the feed)`) : "ok",
    ],
    [
      "APPLY",
      () => (!s.apply || s.apply.ok ? "ok" : red(`FAILING since ${s.apply.since}: ${s.apply.error}`)),
    ],
  ]);
}
