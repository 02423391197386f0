/**
 * `chamicore edge status --url`: what an edge node says of itself. The
 * control API does not track edges; each edge answers `/status` (public,
 * like everything an edge serves), so the CLI asks the edge directly.
 */
import type { Cli, GlobalOptions } from "../app";
import { CliError, EXIT } from "../errors";

interface EdgeStatus {
  position: number;
  head: number;
  mode: string;
  lastContact: string | null;
  lastEventTime: string | null;
  snapshotAt: string | null;
  /** Absent from an edge older than this CLI. */
  apply?: { ok: boolean; reason: string | null; error: string | null; since: string | null };
  kea: {
    state: string;
    strategy: string | null;
    reservations: number | null;
    problems: { total: number };
  } | null;
  agent: { site: string; state: string; running: number; finished: number; failed: number } | null;
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
  cli.printer(a).print({ edge: base, ...s, lag: Math.max(0, s.head - s.position) }, [
    ["EDGE", () => base],
    ["POSITION", () => s.position],
    ["LAG", () => Math.max(0, s.head - s.position)],
    ["MODE", () => s.mode],
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
    // A failing replica still serves, but what it serves is getting old: say why, and since when (last: it is the widest).
    ["APPLY", () => (!s.apply || s.apply.ok ? "ok" : `FAILING since ${s.apply.since}: ${s.apply.error}`)],
  ]);
}
