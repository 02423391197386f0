/**
 * Ids for what a BMC scan finds. A re-scan of the same BMC must give the
 * same ids, so that the inventory updates its components instead of
 * gaining copies; nothing here depends on the time or on chance.
 *
 * The BMC's id comes from the first of:
 *
 * 1. the naming **map**: the BMC's address (the scanned address, or any
 *    IPv4 address the BMC reports) or one of its MACs (any spelling) → id,
 *    e.g. `{"10.1.3.17": "x1000c0s0b0"}`;
 * 2. the naming **rule**: a template whose placeholders are filled from
 *    the BMC's IPv4 address `a.b.c.d` or its position in the scan:
 *
 *        {a} {b} {c} {d}   the octets of the address
 *        {index}           the position of the BMC in the scan's target
 *                          list (stable only while that list is)
 *
 *    each optionally followed by whole-number operations, applied left to
 *    right without precedence: `+N -N *N /N` (rounded down) `%N`.
 *    `x{c+1000}c0s{d-100}b0` names 10.1.3.117 `x1003c0s17b0`;
 *    `x3000c0s{d-10/2}b{d%2}` puts two BMCs per slot;
 * 3. a **fallback**, reported as a problem that suggests a map entry:
 *    `<type>-<MAC without separators>` of the BMC's first management
 *    interface (e.g. `nodebmc-23118a33cfea`, in the style of
 *    server-generated ids). Nothing else (address, UUID) stands in for a
 *    MAC the BMC does not report or that could not be read this time: a
 *    BMC named one way today and another tomorrow would be imported twice,
 *    so such a BMC is not named, and the problem asks for a map entry.
 *
 * From the BMC's id: its nodes are `<bmc>n<i>` when the BMC is a NodeBMC
 * xname (`x1000c0s0b0n0`), else `<bmc>-n<i>`, with i the system's position
 * in the BMC's Systems collection; its chassis is the nearest xname
 * ancestor of type Chassis (`x1000c0` for `x1000c0s0b0`), and none when
 * the id is not an xname.
 */
import { z } from "zod";
import type { ComponentType } from "../../shared/enums";
import { ID_RULE, isValidId, parseXname } from "../../shared/ids";
import { normalizeMac } from "../../shared/mac";

/** xname types a scanned Redfish service may stand for. */
const BMC_XNAME_TYPES = new Set([
  "NodeBMC",
  "ChassisBMC",
  "RouterBMC",
  "CabinetBMC",
  "CabinetPDUController",
  "CabinetPDU",
]);

// ---------- the rule ----------

const VARIABLES = ["a", "b", "c", "d", "index"] as const;
type Variable = (typeof VARIABLES)[number];

type RulePart = string | { variable: Variable; ops: { op: string; n: number }[] };

const PLACEHOLDER = /^(a|b|c|d|index)((?:[-+*/%]\d+)*)$/;

/** The parts of a naming rule; throws an Error that says what is wrong. */
export function parseRule(rule: string): RulePart[] {
  const parts: RulePart[] = [];
  const re = /\{([^{}]*)\}|([^{}]+)|([{}])/g;
  for (const m of rule.matchAll(re)) {
    if (m[3]) throw new Error(`unbalanced '${m[3]}' at character ${m.index + 1}`);
    if (m[2] !== undefined) {
      parts.push(m[2]);
      continue;
    }
    const body = m[1]!.replace(/\s+/g, "");
    const p = PLACEHOLDER.exec(body);
    if (!p)
      throw new Error(
        `{${m[1]}} is not a placeholder: use {a} {b} {c} {d} (IPv4 octets) or {index}, optionally with +N -N *N /N %N`,
      );
    const ops = [...p[2]!.matchAll(/([-+*/%])(\d+)/g)].map((o) => ({ op: o[1]!, n: Number(o[2]) }));
    if (ops.some((o) => (o.op === "/" || o.op === "%") && o.n === 0))
      throw new Error(`{${m[1]}} divides by 0`);
    parts.push({ variable: p[1] as Variable, ops });
  }
  if (!parts.some((p) => typeof p !== "string"))
    throw new Error("has no placeholder: every BMC would get the same id");
  return parts;
}

const OCTETS = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

/** `10.1.3.17` → [10, 1, 3, 17]; undefined when it is not a dotted IPv4 address. */
export function ipv4Octets(s: string): number[] | undefined {
  const m = OCTETS.exec(s.trim());
  const octets = m?.slice(1).map(Number);
  return octets?.every((o) => o <= 255) ? octets : undefined;
}

/** The id a rule gives; throws an Error that says why it cannot give one. */
export function renderRule(rule: string, from: { ipv4?: string; index?: number }): string {
  const octets = from.ipv4 === undefined ? undefined : ipv4Octets(from.ipv4);
  let id = "";
  for (const part of parseRule(rule)) {
    if (typeof part === "string") {
      id += part;
      continue;
    }
    let v: number;
    if (part.variable === "index") {
      if (from.index === undefined) throw new Error("uses {index}, but the scan gave no index");
      v = from.index;
    } else {
      if (!octets) throw new Error(`uses {${part.variable}}, but the BMC has no IPv4 address`);
      v = octets[VARIABLES.indexOf(part.variable)]!;
    }
    for (const { op, n } of part.ops)
      v =
        op === "+" ? v + n : op === "-" ? v - n : op === "*" ? v * n : op === "/" ? Math.floor(v / n) : v % n;
    if (v < 0) throw new Error(`gives a negative number for {${part.variable}…}`);
    id += String(v);
  }
  return id;
}

// ---------- options ----------

/** How a scan names BMCs (a discovery target's `naming` option). */
export const NamingSchema = z
  .strictObject({
    map: z
      .record(z.string().min(1), z.string().refine(isValidId, { error: `must be ${ID_RULE}` }))
      .optional()
      .describe('BMC address (IP or host name) or MAC → the BMC\'s id, e.g. {"10.1.3.17": "x1000c0s0b0"}'),
    rule: z
      .string()
      .superRefine((rule, ctx) => {
        try {
          parseRule(rule);
        } catch (e) {
          ctx.addIssue({ code: "custom", message: (e as Error).message });
        }
      })
      .optional()
      .describe(
        "Template for BMCs the map does not name: {a} {b} {c} {d} (IPv4 octets) or {index}, each with optional +N -N *N /N %N, e.g. x{c+1000}c0s{d-100}b0",
      ),
  })
  .describe("How discovered BMCs are named: the map first, then the rule, else a MAC-based fallback");
export type NamingOptions = z.infer<typeof NamingSchema>;

// ---------- naming ----------

/** What a BMC is known by. */
export interface BmcIdentity {
  /** The scanned address (IP or host name), if the caller says. */
  address?: string;
  /** IPv4 addresses of its management interfaces. */
  ipv4s: string[];
  /** MACs of its management interfaces, normalised, the first one first. */
  macs: string[];
  /** Position in the scan's target list. */
  index?: number;
}

export interface BmcName {
  id: string;
  namedBy: "map" | "rule" | "fallback";
  /** Why the map or rule did not name it, or that a fallback was used. */
  problems: string[];
}

const mapKey = (k: string) => normalizeMac(k) ?? k.trim().toLowerCase();

/**
 * The BMC's id (see the module comment), or undefined with problems when
 * nothing names it. `type` is what the BMC is when its id is not an xname;
 * the fallback uses it as the prefix.
 */
export function nameBmc(
  who: BmcIdentity,
  naming: NamingOptions | undefined,
  type: ComponentType,
): BmcName | { id: undefined; problems: string[] } {
  const problems: string[] = [];
  // xnames are lower case by convention (HMS); parseXname reads either.
  const accept = (given: string, source: string) => {
    if (!isValidId(given)) {
      problems.push(`${source} gives '${given}', which is not ${ID_RULE}`);
      return undefined;
    }
    const x = parseXname(given);
    if (x && !BMC_XNAME_TYPES.has(x.type)) {
      problems.push(`${source} gives '${given}', the xname of a ${x.type}, not of a BMC (e.g. x1000c0s0b0)`);
      return undefined;
    }
    return x ? given.toLowerCase() : given;
  };

  if (naming?.map) {
    const map = new Map(Object.entries(naming.map).map(([k, v]) => [mapKey(k), v]));
    const keys = [...(who.address ? [who.address] : []), ...who.ipv4s, ...who.macs];
    const key = keys.find((k) => map.has(mapKey(k)));
    const id =
      key === undefined ? undefined : accept(map.get(mapKey(key))!, `the naming map entry for ${key}`);
    if (id) return { id, namedBy: "map", problems };
  }

  if (naming?.rule) {
    const ipv4 = [who.address, ...who.ipv4s].find((a) => a !== undefined && ipv4Octets(a));
    let id: string | undefined;
    try {
      const given = renderRule(naming.rule, {
        ...(ipv4 ? { ipv4 } : {}),
        ...(who.index !== undefined ? { index: who.index } : {}),
      });
      id = accept(given, `the naming rule '${naming.rule}'`);
    } catch (e) {
      problems.push(`the naming rule '${naming.rule}' ${(e as Error).message}`);
    }
    if (id) return { id, namedBy: "rule", problems };
  }

  const known = who.address ?? who.ipv4s[0];
  const example = `{"${known ?? "<address>"}": "${type === "PDU" ? "x3000m0" : "x1000c0s0b0"}"}`;
  const mac = who.macs[0];
  if (mac === undefined) {
    problems.push(
      `nothing names this BMC and it reports no MAC for a fallback id: name it with a naming map entry such as ${example}`,
    );
    return { id: undefined, problems };
  }
  const id = `${type.toLowerCase()}-${mac.replaceAll(":", "")}`;
  problems.push(
    `no naming map entry or rule names this BMC${known ? ` (${known})` : ""}, so it is '${id}': ` +
      `name it with a naming map entry such as ${example}`,
  );
  return { id, namedBy: "fallback", problems };
}

/** The id of the BMC's i-th system (position in its Systems collection). */
export function nodeId(bmcId: string, i: number): string {
  return parseXname(bmcId)?.type === "NodeBMC" ? `${bmcId}n${i}` : `${bmcId}-n${i}`;
}

/** The nearest xname ancestor of type Chassis (`x1000c0` for `x1000c0s0b0`), if any. */
export function enclosingChassis(id: string): string | undefined {
  let parent = parseXname(id)?.parent;
  while (parent) {
    const x = parseXname(parent);
    if (x?.type === "Chassis") return parent;
    parent = x?.parent;
  }
  return undefined;
}
