/**
 * `GET /boot/v1/bootscript`: the iPXE script of a booting node. Public (iPXE
 * carries no token) and on the hot path of a boot storm: two indexed reads
 * through a `BootReadStore`, then pure functions. The edge node serves the
 * same handler (`answerBootScript`) over its SQLite replica.
 */
import { type RouteHandler, z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { isValidId } from "../../shared/ids";
import type { Logger } from "../../shared/log";
import { MAC_RULE, normalizeMac } from "../../shared/mac";
import { ApiError, type FieldError } from "../../shared/problem";
import { baseUrlOf } from "../base-url";
import type { AppEnv, ServingSettings } from "../env";
import { defineRoute, problems } from "../route";
import {
  BOOTSCRIPT_PATH,
  MAX_RETRIES,
  renderBootScript,
  renderWaitScript,
  type ScriptContext,
} from "./render";
import { type BootDecision, decideBoot, type Lookup, lookupQuery } from "./resolve";
import type { BootNode, BootReadStore } from "./store";

const LOOKUPS = ["mac", "name", "nid"] as const;

/** `?mac=`, `?name=` or `?nid=` (exactly one) and `?retry=`; other parameters are ignored. */
export function parseBootQuery(params: URLSearchParams): { lookup: Lookup; retry: number } {
  const errors: FieldError[] = [];
  const given = LOOKUPS.filter((k) => params.has(k));
  if (given.length !== 1)
    throw new ApiError(
      "bad-request",
      given.length === 0
        ? "Say which node is booting: ?mac=<MAC>, ?name=<component id> or ?nid=<nid>"
        : `Give only one of ?mac=, ?name= and ?nid= (got ${given.join(", ")})`,
      {
        errors: (given.length ? given : LOOKUPS).map((field) => ({
          field,
          message: "give exactly one of mac, name, nid",
        })),
      },
    );
  for (const k of [...LOOKUPS, "retry"])
    if (params.getAll(k).length > 1) errors.push({ field: k, message: "give it once" });
  const key = given[0]!;
  const raw = params.get(key) ?? "";
  let lookup: Lookup | undefined;
  if (key === "mac") {
    const mac = normalizeMac(raw);
    if (mac) lookup = { by: "mac", mac };
    else errors.push({ field: "mac", message: `must be ${MAC_RULE}` });
  } else if (key === "name") {
    if (isValidId(raw)) lookup = { by: "name", id: raw };
    else errors.push({ field: "name", message: "must be a component id" });
  } else if (/^\d{1,15}$/.test(raw)) lookup = { by: "nid", nid: Number(raw) };
  else errors.push({ field: "nid", message: "must be a whole number" });
  const retryRaw = params.get("retry");
  let retry = 0;
  if (retryRaw !== null) {
    if (/^\d{1,6}$/.test(retryRaw)) retry = Math.min(Number(retryRaw), MAX_RETRIES);
    else errors.push({ field: "retry", message: "must be a whole number" });
  }
  if (errors.length || !lookup)
    throw new ApiError("bad-request", "The query parameters are not valid", { errors });
  return { lookup, retry };
}

const one = (n: BootNode | undefined) => (n ? [n] : []);

/** Reads what the decision needs: the node, then (for one enabled node) the params that could apply. */
export async function resolveBoot(store: BootReadStore, lookup: Lookup): Promise<BootDecision> {
  const nodes =
    lookup.by === "mac"
      ? one(await store.nodeByMac(lookup.mac))
      : lookup.by === "name"
        ? one(await store.nodeById(lookup.id))
        : await store.nodesByNid(lookup.nid, 2);
  const node = nodes.length === 1 && nodes[0]!.enabled ? nodes[0]! : undefined;
  const candidates = node ? await store.paramsFor(node.id, node.role) : undefined;
  return decideBoot(lookup, nodes, candidates);
}

/** The headers of a boot script; X-Chamicore-Boot says which kind it is, for metrics and operators (both answer 200). */
const scriptHeaders = (kind: BootDecision["kind"]) =>
  Object.freeze({
    "Content-Type": "text/plain; charset=utf-8",
    "Cache-Control": "no-store",
    "X-Chamicore-Boot": kind,
  });
export const BOOT_SCRIPT_HEADERS: Readonly<Record<BootDecision["kind"], Readonly<Record<string, string>>>> = {
  boot: scriptHeaders("boot"),
  wait: scriptHeaders("wait"),
};

/**
 * The script for a decision: the boot script, or why the node cannot boot
 * yet as a script that retries (`unknownMac: "retry"`, the default) or as a
 * 404 problem (thrown). `base` is asked for only when a script is rendered.
 */
export function bootScriptOf(
  decision: BootDecision,
  q: { lookup: Lookup; retry: number },
  opts: {
    base: () => string;
    unknownMac: ServingSettings["unknownMac"];
    logger: Logger;
    artifactUrl?: ScriptContext["artifactUrl"];
  },
): { kind: BootDecision["kind"]; script: string } {
  if (decision.kind === "wait") {
    opts.logger.warn("node cannot boot", { lookup: lookupQuery(q.lookup), reason: decision.reason });
    if (opts.unknownMac === "404") throw new ApiError("not-found", `Cannot boot: ${decision.reason}`);
  }
  const ctx: ScriptContext = {
    lookup: q.lookup,
    base: opts.base(),
    retry: q.retry,
    artifactUrl: opts.artifactUrl,
  };
  const script =
    decision.kind === "boot" ? renderBootScript(ctx, decision) : renderWaitScript(ctx, decision.reason);
  return { kind: decision.kind, script };
}

/** Answers a node with `bootScriptOf` its decision. */
export async function answerBootScript(
  c: Context<AppEnv>,
  store: BootReadStore,
  lookup: Lookup,
  retry: number,
): Promise<Response> {
  const decision = await resolveBoot(store, lookup);
  const { serving, logger, artifacts } = c.var.deps;
  const { kind, script } = bootScriptOf(
    decision,
    { lookup, retry },
    {
      base: () => baseUrlOf(c),
      unknownMac: serving.unknownMac,
      logger,
      artifactUrl: artifacts?.urlFor && ((ref, base) => artifacts.urlFor!(ref, base)),
    },
  );
  if (decision.kind === "boot")
    c.var.deps.progress?.seen({ node: decision.node.id, stage: "bootscript", retry });
  return c.text(script, 200, BOOT_SCRIPT_HEADERS[kind]);
}

const EXAMPLE = `#!ipxe
# Chamicore boot script for x1000c0s0b0n0: boot parameters bp-3f2a9c1d (role Compute), attempt 1 of 11
echo Chamicore: booting x1000c0s0b0n0 with the boot parameters of role Compute
kernel --name kernel http://images.example/vmlinuz initrd=initrd console=ttyS0,115200 chamicore.id=x1000c0s0b0n0 chamicore.nid=1 BOOTIF=01-a4-bf-01-38-ee-65 ds=nocloud-net;s=http://boot.example:8080/cloud-init/x1000c0s0b0n0/ || goto retry
initrd --name initrd http://images.example/initramfs.img || goto retry
boot || goto retry
:retry
…`;

export const bootScriptRoute = defineRoute("public", {
  method: "get",
  path: BOOTSCRIPT_PATH,
  tags: ["boot"],
  summary: "iPXE boot script of a node",
  description:
    "Public: iPXE carries no token. Name the node by exactly one of `mac` (any usual spelling), `name` (component id) or `nid`. Params are the component's own, else its role's, else the cluster default, with {id}, {nid}, {role} and {mac} substituted and the node's identity appended to the command line. A failing step sleeps and chains back here with `retry=<n+1>`, up to 10 times, then reboots. A node that cannot boot (unknown, disabled, no params) gets a script that says why and retries, or a 404 problem when CHAMICORE_BOOT_UNKNOWN_MAC=404. See docs/boot.md.",
  request: {
    query: z.object({
      mac: z
        .string()
        .optional()
        .openapi({ description: `MAC of the booting interface: ${MAC_RULE}`, example: "a4:bf:01:38:ee:65" }),
      name: z.string().optional().openapi({ description: "Component id", example: "x1000c0s0b0n0" }),
      nid: z.string().optional().openapi({ description: "Node id (numeric)", example: "1" }),
      retry: z
        .string()
        .optional()
        .openapi({
          description: `Retry count, set by the script itself when it chains back (0–${MAX_RETRIES})`,
        }),
    }),
  },
  responses: {
    200: {
      description: "An iPXE script (also when the node cannot boot yet, in the default retry mode)",
      content: { "text/plain": { schema: z.string().openapi({ example: EXAMPLE }) } },
    },
    ...problems(404),
  },
});

export const bootScript: RouteHandler<typeof bootScriptRoute, AppEnv> = async (c) => {
  const { lookup, retry } = parseBootQuery(new URL(c.req.url).searchParams);
  return answerBootScript(c, c.var.stores.boot, lookup, retry) as never;
};
