/**
 * `cluster.health_summary`: the first thing an agent asks, answered in one
 * call from the read tools' own routes (with the caller's token, so a
 * section the token may not read says so instead of failing the call):
 * the API's readiness, nodes by state, boot stages and the nodes stuck
 * longest, each edge's lag and Kea sync, running and recently failed power
 * transitions and discovery scans, and a list of the problems found, worst
 * first.
 */
import { z } from "@hono/zod-openapi";
import type { McpServer } from "@modelcontextprotocol/sdk/server/mcp.js";
import { audited, type CallTarget, problemText, type ToolCall, text } from "./calls";
import type { RouteTool } from "./tools";

export const SUMMARY_TOOL = "cluster.health_summary";

/** The read tools a summary is made of. */
const READS = [
  "system.readiness",
  "smd.summary",
  "boot.status",
  "edges.list",
  "power.transitions.list",
  "discovery.scans.list",
] as const;

const Input = z.object({
  stuckAfterSeconds: z
    .number()
    .int()
    .min(1)
    .optional()
    .describe(
      "A node that has not phoned home this long after its last boot stage counts as stuck; default 600",
    ),
  sinceHours: z
    .number()
    .int()
    .min(1)
    .max(24 * 30)
    .optional()
    .describe("How far back failed power transitions and discovery scans count; default 24"),
});

type Doc = Record<string, unknown>;
interface ListDoc {
  metadata: { total: number; counts?: Record<string, number> };
  items: Doc[];
}

/** A section that could not be read, and why (the API's words). */
class Unreadable {
  constructor(readonly reason: string) {}
}

const list = (d: Doc | Unreadable) => d as unknown as ListDoc;

/** A list of enveloped resources, each as its spec with its id and update time. */
function flat(d: Doc | Unreadable): Doc | Unreadable {
  if (d instanceof Unreadable) return d;
  const items = list(d).items.map((i) => {
    const m = i.metadata as { id: string; updatedAt: string };
    return { ...(i.spec as Doc), id: m.id, updatedAt: m.updatedAt };
  });
  return { ...d, items };
}

function problemsOf(s: {
  readiness: Doc | Unreadable;
  boot: Doc | Unreadable;
  edges: Doc | Unreadable;
  transitions: Doc | Unreadable;
  scans: Doc | Unreadable;
  stuckAfter: number;
}): string[] {
  const out: string[] = [];
  if (!(s.readiness instanceof Unreadable) && s.readiness.status !== "ready")
    out.push(`control plane not ready: ${String(s.readiness.detail)}`);
  if (!(s.edges instanceof Unreadable))
    for (const e of list(s.edges).items) {
      const name = String(e.name);
      if (e.stale) out.push(`edge ${name}: no report since ${String(e.reportedAt)} (down, or cut off)`);
      const stalled = e.stalled as { since: string; reason: string } | null;
      if (stalled) out.push(`edge ${name}: replica stalled since ${stalled.since}: ${stalled.reason}`);
      if (e.applyOk === false) out.push(`edge ${name}: its replica cannot take changes`);
      const kea = e.kea as { state: string; problems: number } | null;
      if (kea && kea.problems > 0)
        out.push(`edge ${name}: Kea sync ${kea.state}, ${kea.problems} problem(s)`);
    }
  if (!(s.boot instanceof Unreadable)) {
    const b = list(s.boot);
    if (b.metadata.total > 0)
      out.push(
        `${b.metadata.total} node(s) stuck in boot for ${s.stuckAfter} s or more, longest first: ${b.items
          .map((n) => `${String(n.id)} (${String(n.stage)}, ${String(n.stuckSeconds)} s)`)
          .join(", ")}`,
      );
  }
  if (!(s.transitions instanceof Unreadable))
    for (const t of list(s.transitions).items) {
      const c = t.taskCounts as { failed: number; total: number };
      if (c.failed > 0)
        out.push(
          `power transition ${String(t.id)} (${String(t.operation)}): ${c.failed} of ${c.total} task(s) failed`,
        );
    }
  if (!(s.scans instanceof Unreadable))
    for (const d of list(s.scans).items)
      out.push(`discovery scan ${String(d.id)} failed${d.message ? `: ${String(d.message)}` : ""}`);
  return out;
}

/** The summary document: what each section read, or why it could not. */
async function summarize(
  call: ToolCall,
  tools: ReadonlyMap<string, RouteTool>,
  args: Record<string, unknown>,
) {
  const stuckAfter = Number(args.stuckAfterSeconds ?? 600);
  const since = new Date(Date.now() - Number(args.sinceHours ?? 24) * 3_600_000).toISOString();
  let answered = 0;
  const read = async (name: (typeof READS)[number], query: Record<string, unknown> = {}) => {
    const res = await call.send(tools.get(name)!, query);
    if (res instanceof Error) return new Unreadable(`not reached: ${res.message}`);
    const body = await res.text();
    // Readiness answers 503 with the reason when the database is not there: that is the news.
    if (!res.ok && !(name === "system.readiness" && res.status === 503))
      return new Unreadable(problemText(res.status, body));
    answered++;
    return JSON.parse(body) as Doc;
  };
  const show = (d: Doc | Unreadable, pick: (d: Doc) => unknown) =>
    d instanceof Unreadable ? { unreadable: d.reason } : pick(d);

  const readiness = await read("system.readiness");
  const inventory = await read("smd.summary");
  // Oldest stage first: the longest stuck lead.
  const boot = await read("boot.status", { stuckFor: stuckAfter, limit: 10 });
  const edges = await read("edges.list");
  const running = flat(await read("power.transitions.list", { state: "new,in-progress", limit: 10 }));
  const transitions = flat(await read("power.transitions.list", { state: "completed", limit: 50 }));
  const scanning = flat(await read("discovery.scans.list", { state: "new,running", limit: 10 }));
  const scans = flat(await read("discovery.scans.list", { state: "failed", limit: 10 }));
  // Only what failed within the window counts as a problem now.
  const recent = (d: Doc | Unreadable) =>
    d instanceof Unreadable ? d : { ...d, items: list(d).items.filter((i) => String(i.updatedAt) >= since) };
  const problems = problemsOf({
    readiness,
    boot,
    edges,
    transitions: recent(transitions),
    scans: recent(scans),
    stuckAfter,
  });
  return {
    answered,
    doc: {
      asOf: new Date().toISOString(),
      problems,
      controlPlane: show(readiness, (d) => d),
      nodes: show(inventory, (d) => ({ ...(d.nodes as Doc), racks: (d.racks as Doc[]).length })),
      boot: show(boot, (d) => ({
        stages: list(d).metadata.counts,
        stuck: list(d).metadata.total,
        stuckLongest: list(d).items,
      })),
      edges: show(edges, (d) =>
        list(d).items.map((e) => ({
          name: e.name,
          stale: e.stale,
          reportedAt: e.reportedAt,
          lagEvents: e.lagEvents,
          lagSeconds: e.lagSeconds,
          mode: e.mode,
          stalled: e.stalled,
          kea: e.kea,
        })),
      ),
      power: show(running, (d) => ({
        running: list(d).metadata.total,
        runningTransitions: list(d).items.map((t) => ({ id: t.id, operation: t.operation, state: t.state })),
      })),
      discovery: show(scanning, (d) => ({
        running: list(d).metadata.total,
        runningScans: list(d).items.map((s) => ({ id: s.id, state: s.state })),
      })),
    },
  };
}

/** Registers the summary tool; it needs whichever scopes its sections' routes do. */
export function registerSummary(
  server: McpServer,
  routeTools: readonly RouteTool[],
  start: (id: string | number, what: CallTarget) => ToolCall,
) {
  const tools = new Map(
    routeTools.filter((t) => (READS as readonly string[]).includes(t.name)).map((t) => [t.name, t]),
  );
  if (tools.size < READS.length) return;
  const scopes = [...new Set([...tools.values()].flatMap((t) => t.scopes))].filter((s) => s !== "public");
  server.registerTool(
    SUMMARY_TOOL,
    {
      description: `The cluster at a glance, and what is wrong first: control plane readiness, nodes by state, boot stages and the nodes stuck longest, edges (lag, Kea sync), running and recently failed power transitions and discovery scans. A section the token may not read says so. (reads ${READS.join(", ")}; scopes ${scopes.join(", ")})`,
      inputSchema: Input,
      annotations: { readOnlyHint: true },
    },
    async (args: Record<string, unknown>, extra) => {
      const call = start(extra.requestId, { name: SUMMARY_TOOL, capability: "read", targets: [] });
      return audited(call, undefined, args, async () => {
        const { answered, doc } = await summarize(call, tools, args);
        await call.record(answered > 0 ? "ok" : "refused");
        return text(JSON.stringify(doc, null, 2), answered === 0);
      });
    },
  );
}
