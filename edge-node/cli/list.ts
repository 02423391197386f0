/**
 * `chamicore edge list`: every edge that reports to the control plane
 * (`GET /events/v1/edges`), with its last report: replica position and lag,
 * feed mode, Kea sync, boot progress not yet sent, and STALE when its
 * reports stopped (the edge is down or cut off).
 */
import { type Schemas, unwrap } from "../../shared/client";
import type { Cli, GlobalOptions } from "../../shared/node/cli/app";
import type { Column } from "../../shared/node/cli/output";

type Edge = Schemas["Edge"];
const c = (header: string, f: (e: Edge) => unknown): Column => [header, (r) => f(r as Edge)];

const COLUMNS: Column[] = [
  c("NAME", (e) => e.name),
  c("STATE", (e) => (e.stale ? "STALE" : "ok")),
  c("REPORTED", (e) => e.reportedAt),
  c("POSITION", (e) => e.position),
  c("LAG", (e) => `${e.lagEvents} (${Math.round(e.lagSeconds)} s)`),
  c("MODE", (e) => (e.stalled ? `${e.mode} (stream stalled)` : e.mode)),
  c("KEA", (e) => (e.kea ? `${e.kea.state} (${e.kea.problems} problems)` : "off")),
  c("PROGRESS", (e) => `${e.progress.pending} unsent, ${e.progress.dropped} dropped`),
  c("VERSION", (e) => e.version),
];

export async function edgeList(cli: Cli, a: GlobalOptions) {
  const { data } = await unwrap(cli.session(a).client.GET("/events/v1/edges"));
  cli.printer(a).print(data, COLUMNS);
}
