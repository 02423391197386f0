/**
 * Which boot parameters a booting node gets, as a pure function of what
 * the store read: the component's own params, else its role's, else the
 * cluster default (most specific wins). Everything that stops a node from
 * booting is a reason in words, shown on the node's console or in a 404.
 */
import type { ArtifactRef } from "../artifacts/schemas";
import type { BootParams } from "./schemas";
import type { BootNode, ParamsCandidates } from "./store";
import { checkCmdline, checkUri, type Substitution, substitute } from "./text";

/** How the node asked for its script: `?mac=`, `?name=` or `?nid=`. */
export type Lookup = { by: "mac"; mac: string } | { by: "name"; id: string } | { by: "nid"; nid: number };

/** The lookup as a query string: `mac=aa:bb:cc:dd:ee:ff`, `name=x1000c0s0b0n0` or `nid=17`. */
export const lookupQuery = (l: Lookup) =>
  l.by === "mac" ? `mac=${l.mac}` : l.by === "name" ? `name=${l.id}` : `nid=${l.nid}`;

/** Which target the chosen params were written for. */
export type ParamsSource = "component" | "role" | "default";

export type BootDecision =
  | {
      kind: "boot";
      node: BootNode;
      source: ParamsSource;
      /** The source in words: "component x", "role Compute" or "the cluster default". */
      target: string;
      /** Id of the params row used. */
      paramsId: string;
      /** The params with the node's facts substituted; kernelUri empty when `kernel` names an artifact. */
      kernelUri: string;
      initrdUri: string;
      cmdline: string;
      /** Artifacts, whose URL depends on where the script is served (render.ts). */
      kernel: ArtifactRef | null;
      initrd: ArtifactRef | null;
    }
  | { kind: "wait"; reason: string };

/**
 * What iPXE puts in for the MAC when the node was looked up by name or nid:
 * the MAC of the interface it is booting from (iPXE's `netX`, the most
 * recently opened network device).
 */
export const IPXE_BOOT_MAC = `\${netX/mac}`;

/** The component's own params, else its role's, else the default. */
export function chooseParams(c: ParamsCandidates): { source: ParamsSource; params: BootParams } | undefined {
  if (c.component) return { source: "component", params: c.component };
  if (c.role) return { source: "role", params: c.role };
  if (c.default) return { source: "default", params: c.default };
  return undefined;
}

const describeLookup = (l: Lookup) =>
  l.by === "mac"
    ? `no component in the inventory has MAC ${l.mac}`
    : l.by === "name"
      ? `component ${l.id} is not in the inventory`
      : `no component in the inventory has nid ${l.nid}`;

/** "component x", "role Compute" or "the cluster default": the target params were written for. */
export const targetLabel = (source: ParamsSource, p: Pick<BootParams, "componentId" | "role">) =>
  source === "component"
    ? `component ${p.componentId}`
    : source === "role"
      ? `role ${p.role}`
      : "the cluster default";

/** What was found wrong with frozen params (null: nothing): they cannot change, so once is enough. */
const checkedParams = new WeakMap<BootParams, string | null>();

/**
 * What is wrong with params, as "<field> <problem>", or undefined. Rows are
 * checked when written; checking again keeps a row written some other way
 * from breaking a script. Params a store hands out frozen (the edge's boot
 * index, one object per version) are checked once, not on every request.
 */
function paramsProblem(params: BootParams): string | undefined {
  const known = checkedParams.get(params);
  if (known !== undefined) return known ?? undefined;
  const invalid: [string, string | undefined][] = [
    // Rows written before artifacts (an edge's older replica) have no kernel field at all.
    ["kernelUri", params.kernel ? undefined : checkUri(params.kernelUri)],
    ["initrdUri", params.initrdUri === "" ? undefined : checkUri(params.initrdUri)],
    ["cmdline", checkCmdline(params.cmdline)],
  ];
  const bad = invalid.find(([, problem]) => problem);
  const problem = bad ? `${bad[0]} ${bad[1]}` : undefined;
  if (Object.isFrozen(params)) checkedParams.set(params, problem ?? null);
  return problem;
}

/**
 * Decides what a node gets. `nodes` are the components the lookup found
 * (up to two: more than one is ambiguous), `candidates` the params read for
 * the one found (undefined when none was read).
 */
export function decideBoot(
  lookup: Lookup,
  nodes: BootNode[],
  candidates: ParamsCandidates | undefined,
): BootDecision {
  const [node] = nodes;
  if (!node) return { kind: "wait", reason: describeLookup(lookup) };
  if (nodes.length > 1)
    return {
      kind: "wait",
      reason: `nid ${node.nid} belongs to more than one component (${nodes.map((n) => n.id).join(", ")})`,
    };
  if (!node.enabled) return { kind: "wait", reason: `component ${node.id} is disabled (enabled: false)` };
  const chosen = candidates && chooseParams(candidates);
  if (!chosen)
    return {
      kind: "wait",
      reason: `no boot parameters apply to ${node.id}: none for the component, ${
        node.role ? `none for its role ${node.role}` : "it has no role"
      }, and no cluster default`,
    };
  const { source, params } = chosen;
  const target = targetLabel(source, params);
  const where = `the boot parameters ${params.id} (${target})`;

  const bad = paramsProblem(params);
  if (bad) return { kind: "wait", reason: `${where} are not valid: ${bad}` };

  const facts: Record<Substitution, string | undefined> = {
    id: node.id,
    nid: node.nid === null ? undefined : String(node.nid),
    role: node.role ?? undefined,
    mac: lookup.by === "mac" ? lookup.mac : IPXE_BOOT_MAC,
  };
  const out: Record<"kernelUri" | "initrdUri" | "cmdline", string> = {
    kernelUri: "",
    initrdUri: "",
    cmdline: "",
  };
  for (const field of ["kernelUri", "initrdUri", "cmdline"] as const) {
    const r = substitute(params[field], facts);
    if ("missing" in r)
      return { kind: "wait", reason: `${where} use {${r.missing}} but ${node.id} has no ${r.missing}` };
    out[field] = r.text;
  }
  return {
    kind: "boot",
    node,
    source,
    target,
    paramsId: params.id,
    ...out,
    kernel: params.kernel ?? null,
    initrd: params.initrd ?? null,
  };
}
