/**
 * The MCP tools: each one names the API route it calls (method and path as
 * the route declares them), whether it reads or writes, and, for a tool that
 * destroys or interrupts something, what it would do, said to an agent that
 * did not pass `confirm: true`. Inputs, scopes and answers are the route's
 * own (./tools.ts): a tool is the API, not a second implementation.
 */

import { INTERRUPTING_OPERATIONS } from "../power/values";

export type Capability = "read" | "write";

/** read-only lists the read tools alone; read-write all of them. */
export type McpMode = "read-only" | "read-write";

export interface ToolEntry {
  name: string;
  method: "get" | "post" | "put" | "patch" | "delete";
  /** The route's path, as declared (`/hsm/v2/State/Components/{id}`). */
  path: string;
  capability: Capability;
  /**
   * Destructive: the call needs `confirm: true`; without it the tool says
   * what would happen, from its arguments, and does nothing. `true` for
   * always, or a function answering the description when these arguments
   * are destructive (a power transition that turns nodes off) and
   * undefined when they are not.
   */
  destructive?: true | ((args: Record<string, unknown>) => string | undefined);
}

const HSM = "/hsm/v2";
const BSS = "/boot/v1/bootparams";
const PAYLOADS = "/cloud-init/payloads";
const POWER = "/power/v1";
const DISCOVERY = "/discovery/v1";

/** Power operations that interrupt what a node runs. */
const INTERRUPTING = new Set<string>(INTERRUPTING_OPERATIONS);

function powerEffect(args: Record<string, unknown>): string | undefined {
  const body = (args.body ?? {}) as { operation?: unknown; location?: unknown; group?: unknown };
  if (typeof body.operation !== "string" || !INTERRUPTING.has(body.operation)) return undefined;
  const nodes = Array.isArray(body.location)
    ? body.location.map((l) => String((l as { xname?: unknown }).xname))
    : [];
  const who = [
    nodes.length
      ? `${nodes.length} node(s): ${nodes.slice(0, 10).join(", ")}${nodes.length > 10 ? ", …" : ""}`
      : "",
    typeof body.group === "string" ? `the members of the group '${body.group}'` : "",
  ]
    .filter(Boolean)
    .join(" and ");
  return `would ${body.operation} ${who || "the named nodes"}`;
}

const deletes = (what: string) => (args: Record<string, unknown>) =>
  `would delete ${what} '${String(args.id ?? args.name ?? "?")}'`;

export const TOOLS: readonly ToolEntry[] = [
  // ---------- inventory ----------
  { name: "smd.components.list", method: "get", path: `${HSM}/State/Components`, capability: "read" },
  { name: "smd.components.get", method: "get", path: `${HSM}/State/Components/{id}`, capability: "read" },
  { name: "smd.summary", method: "get", path: `${HSM}/summary`, capability: "read" },
  {
    name: "smd.interfaces.list",
    method: "get",
    path: `${HSM}/Inventory/EthernetInterfaces`,
    capability: "read",
  },
  { name: "smd.groups.list", method: "get", path: `${HSM}/groups`, capability: "read" },
  { name: "smd.groups.get", method: "get", path: `${HSM}/groups/{name}`, capability: "read" },
  {
    name: "smd.groups.members.add",
    method: "post",
    path: `${HSM}/groups/{name}/members`,
    capability: "write",
  },
  {
    name: "smd.groups.members.remove",
    method: "delete",
    path: `${HSM}/groups/{name}/members/{componentId}`,
    capability: "write",
    destructive: (a) => `would remove '${String(a.componentId)}' from the group '${String(a.name)}'`,
  },
  // ---------- boot ----------
  { name: "bss.bootparams.list", method: "get", path: BSS, capability: "read" },
  { name: "bss.bootparams.get", method: "get", path: `${BSS}/{id}`, capability: "read" },
  { name: "bss.bootparams.create", method: "post", path: BSS, capability: "write" },
  { name: "bss.bootparams.replace", method: "put", path: `${BSS}/{id}`, capability: "write" },
  {
    name: "bss.bootparams.delete",
    method: "delete",
    path: `${BSS}/{id}`,
    capability: "write",
    destructive: deletes("the boot parameters"),
  },
  { name: "boot.script.preview", method: "get", path: "/boot/v1/bootscript", capability: "read" },
  { name: "boot.status", method: "get", path: "/boot/v1/status", capability: "read" },
  // ---------- cloud-init ----------
  { name: "cloudinit.payloads.list", method: "get", path: PAYLOADS, capability: "read" },
  { name: "cloudinit.payloads.get", method: "get", path: `${PAYLOADS}/{id}`, capability: "read" },
  { name: "cloudinit.payloads.create", method: "post", path: PAYLOADS, capability: "write" },
  { name: "cloudinit.payloads.replace", method: "put", path: `${PAYLOADS}/{id}`, capability: "write" },
  {
    name: "cloudinit.payloads.delete",
    method: "delete",
    path: `${PAYLOADS}/{id}`,
    capability: "write",
    destructive: deletes("the cloud-init payload"),
  },
  // The NoCloud documents exactly as the node gets them (merged from its payloads).
  ...(["meta-data", "user-data", "vendor-data"] as const).map(
    (doc): ToolEntry => ({
      name: `cloudinit.preview.${doc}`,
      method: "get",
      path: `/cloud-init/{id}/${doc}`,
      capability: "read",
    }),
  ),
  // ---------- power ----------
  { name: "power.status.get", method: "get", path: `${POWER}/power-status`, capability: "read" },
  { name: "power.transitions.list", method: "get", path: `${POWER}/transitions`, capability: "read" },
  { name: "power.transitions.get", method: "get", path: `${POWER}/transitions/{id}`, capability: "read" },
  {
    name: "power.transitions.create",
    method: "post",
    path: `${POWER}/transitions`,
    capability: "write",
    destructive: powerEffect,
  },
  {
    name: "power.transitions.abort",
    method: "delete",
    path: `${POWER}/transitions/{id}`,
    capability: "write",
    destructive: (a) => `would abort the power transition '${String(a.id)}': tasks not yet run stop`,
  },
  // ---------- discovery ----------
  { name: "discovery.drivers.list", method: "get", path: `${DISCOVERY}/drivers`, capability: "read" },
  { name: "discovery.targets.list", method: "get", path: `${DISCOVERY}/targets`, capability: "read" },
  { name: "discovery.targets.get", method: "get", path: `${DISCOVERY}/targets/{id}`, capability: "read" },
  { name: "discovery.targets.create", method: "post", path: `${DISCOVERY}/targets`, capability: "write" },
  {
    name: "discovery.targets.delete",
    method: "delete",
    path: `${DISCOVERY}/targets/{id}`,
    capability: "write",
    destructive: deletes("the discovery target"),
  },
  { name: "discovery.scans.list", method: "get", path: `${DISCOVERY}/scans`, capability: "read" },
  { name: "discovery.scans.get", method: "get", path: `${DISCOVERY}/scans/{id}`, capability: "read" },
  { name: "discovery.scans.create", method: "post", path: `${DISCOVERY}/scans`, capability: "write" },
  // ---------- the control plane, events and edges ----------
  { name: "system.readiness", method: "get", path: "/readiness", capability: "read" },
  { name: "events.changes", method: "get", path: "/events/v1/changes", capability: "read" },
  { name: "edges.list", method: "get", path: "/events/v1/edges", capability: "read" },
];
