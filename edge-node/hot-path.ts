/**
 * The edge's hot routes — `GET /boot/v1/bootscript` and the NoCloud
 * documents — answered before the Hono stack: in a boot storm the shared
 * middleware, the validator and the context cost more than the answer.
 * The answers still come from the shared functions (functions/boot,
 * functions/cloud-init), with the headers the normal stack sends (its
 * security headers, taken once from the shared app skeleton, API-Version,
 * X-Request-Id, Cache-Control, ETag), built as one plain object, which
 * @hono/node-server writes without a `Headers`. The same request and answer
 * metrics are counted, into series bound once.
 *
 * Anything unusual — another method, a percent-encoded or repeated
 * parameter, a conditional request, a lookup that ends in a problem — is
 * left to the normal stack (`undefined`), which answers it as it always has:
 * problem+json, 304, the validator's 400. So the hot path only ever gives
 * the normal stack's answer, sooner.
 */
import { createHash, randomUUID } from "node:crypto";
import type { ArtifactRef } from "../functions/artifacts/schemas";
import type { ArtifactServing } from "../functions/artifacts/store";
import { advertisedBase } from "../functions/base-url";
import { BOOT_SCRIPT_HEADERS, bootScriptOf, parseBootQuery, resolveBoot } from "../functions/boot/bootscript";
import { BOOTSCRIPT_PATH } from "../functions/boot/render";
import type { BootReadStore } from "../functions/boot/store";
import { nodeAt } from "../functions/cloud-init/caller";
import { DOCUMENTS, type DocumentName } from "../functions/cloud-init/schemas";
import { cloudInitDocument, DOCUMENT_CACHE_CONTROL } from "../functions/cloud-init/serve";
import type { CloudInitReadStore, NodeFacts } from "../functions/cloud-init/store";
import type { ServingSettings } from "../functions/env";
import type { ProgressObserver } from "../functions/progress/store";
import { createBaseApp } from "../shared/http/app";
import { clientAddress } from "../shared/http/client-address";
import { isValidId } from "../shared/ids";
import { type Logger, silentLogger } from "../shared/log";
import { normalizeMac } from "../shared/mac";
import { type Counter, type HttpMetrics, httpMetrics, Registry } from "../shared/metrics";
import { answeredSpan } from "../shared/tracing";

/** The TCP peer's address, from what the server hands `fetch` besides the request. */
export type PeerOf = (req: Request, env: unknown) => string | undefined;

/** An answer, or undefined: the normal stack answers this request. */
export type HotPath = ((req: Request, env?: unknown) => Promise<Response | undefined> | undefined) & {
  /** Resolves once the headers are known; until then every request is left to the normal stack. */
  ready: Promise<void>;
};

/**
 * The peer as @hono/node-server (`env.incoming`, an IncomingMessage) and
 * Bun.serve (`env` is the server, `requestIP(req)`) give it.
 */
export const serverPeer: PeerOf = (req, env) => {
  const e = env as
    | {
        incoming?: { socket?: { remoteAddress?: string } };
        requestIP?: (r: Request) => { address: string } | null;
      }
    | undefined;
  if (e?.incoming) return e.incoming.socket?.remoteAddress;
  return typeof e?.requestIP === "function" ? (e.requestIP(req)?.address ?? undefined) : undefined;
};

export interface HotPathOptions {
  boot: BootReadStore;
  cloudInit: CloudInitReadStore;
  serving: ServingSettings;
  logger: Logger;
  /** The app's HTTP metrics: the series the normal stack counts these routes into. */
  metrics: HttpMetrics;
  /** `chamicore_edge_answers_total`. */
  answers: Counter;
  /** Default: `serverPeer`. */
  peerOf?: PeerOf;
  /** Told of each node's boot script and documents, as the normal stack's handlers tell it. */
  progress?: ProgressObserver;
  /** Where scripts send nodes for artifacts (the edge's cache), as in the normal stack's AppDeps. */
  artifacts?: ArtifactServing;
  /**
   * A tracing SDK runs: each answer is a server span, offered to its
   * sampler; `ratio`: the SDK's share of new traces, drawn here first.
   */
  traced?: { ratio: number | undefined };
}

/** The answer headers the normal stack adds to every route (security headers, API-Version), lower-case. */
async function commonHeaders(): Promise<Record<string, string>> {
  const app = createBaseApp({ logger: silentLogger, metrics: httpMetrics(new Registry()) });
  app.get("/", (c) => c.body(null));
  const res = await app.request("/");
  const out: Record<string, string> = {};
  res.headers.forEach((v, k) => {
    if (!PER_ANSWER.has(k)) out[k] = v;
  });
  return out;
}
const PER_ANSWER = new Set(["x-request-id", "cache-control", "content-type", "content-length", "etag"]);

/** A header template: names lower-case and sorted, as the normal stack's `Headers` writes them. */
function template(...parts: Record<string, string>[]): Record<string, string> {
  const all: Record<string, string> = {};
  for (const p of parts) for (const [k, v] of Object.entries(p)) all[k.toLowerCase()] = v;
  const out: Record<string, string> = {};
  for (const k of Object.keys(all).sort()) out[k] = all[k]!;
  return out;
}

/** hono's requestId middleware: the caller's id when it is a sane token, else a fresh one. */
function requestIdOf(req: Request): string {
  const given = req.headers.get("x-request-id");
  return given && given.length <= 255 && !/[^\w\-=]/.test(given) ? given : randomUUID();
}

/** hono's etag middleware digests a body in one piece below this size (SHA-1 of the whole). */
const ETAG_CHUNK = 262144;

interface Bound {
  requests: { inc(): void };
  duration: { observe(seconds: number): void };
  answers: { inc(): void };
  route: string;
}

export function createHotPath(o: HotPathOptions): HotPath {
  const debug = o.logger.enabled?.("debug") ?? true;
  const peerOf = o.peerOf ?? serverPeer;
  const trusted = o.serving.trustedProxies;
  const cache = o.artifacts;
  const artifactUrl = cache?.urlFor && ((ref: ArtifactRef, base: string) => cache.urlFor!(ref, base));
  // A configured public URL is the base of every answer, checked once; a refused one leaves every
  // boot script to the normal stack, which answers its 400.
  let fixedBase: string | undefined;
  if (o.serving.publicUrl !== undefined)
    try {
      fixedBase = advertisedBase(o.serving.publicUrl, "http://unused/");
    } catch {
      fixedBase = undefined;
    }

  let boot: Record<"boot" | "wait", Record<string, string>> | undefined;
  let doc: Record<string, string> | undefined;
  const ready = commonHeaders().then(
    (common) => {
      const perAnswer = { "x-request-id": "" };
      // The length last, spelled as @hono/node-server writes it for the normal stack's answers: the same bytes on the wire.
      boot = {
        boot: { ...template(common, BOOT_SCRIPT_HEADERS.boot, perAnswer), "Content-Length": "" },
        wait: { ...template(common, BOOT_SCRIPT_HEADERS.wait, perAnswer), "Content-Length": "" },
      };
      doc = {
        ...template(
          common,
          { "content-type": "", "cache-control": DOCUMENT_CACHE_CONTROL, etag: "" },
          perAnswer,
        ),
        "content-length": "",
      };
    },
    // Left to the normal stack for good, which answers the same, slower.
    (e) => o.logger.warn("hot routes off", { err: e instanceof Error ? e.message : String(e) }),
  );

  const bind = (route: string, answer: Record<string, string>): Bound => {
    const labels = { method: "GET", route, status: "200" };
    return {
      requests: o.metrics.requests.bind(labels),
      duration: o.metrics.duration.bind(labels),
      answers: o.answers.bind(answer),
      route,
    };
  };
  const bootCounts = {
    boot: bind(BOOTSCRIPT_PATH, { kind: "bootscript", outcome: "boot" }),
    wait: bind(BOOTSCRIPT_PATH, { kind: "bootscript", outcome: "wait" }),
  };
  const served = { kind: "cloud-init", outcome: "served" };
  const docCounts = Object.fromEntries(
    DOCUMENTS.map((name) => [
      name,
      { byId: bind(`/cloud-init/:id/${name}`, served), mine: bind(`/cloud-init/${name}`, served) },
    ]),
  ) as Record<DocumentName, { byId: Bound; mine: Bound }>;

  const lastEtag = Object.fromEntries(DOCUMENTS.map((name) => [name, { etag: "" }])) as Record<
    DocumentName,
    { body?: string; etag: string }
  >;

  function answer(
    req: Request,
    body: string,
    headers: Record<string, string>,
    requestId: string,
    counts: Bound,
    t0: number,
    path: string,
  ) {
    if (o.traced)
      answeredSpan(
        `GET ${counts.route}`,
        t0,
        { "http.request.method": "GET", "http.route": counts.route, "http.response.status_code": 200 },
        (name) => req.headers.get(name) ?? undefined,
        o.traced.ratio,
      );
    const seconds = (performance.now() - t0) / 1000;
    counts.requests.inc();
    counts.duration.observe(seconds);
    counts.answers.inc();
    if (debug)
      o.logger.debug("request", {
        method: "GET",
        route: counts.route,
        status: "200",
        path,
        ms: Math.round(seconds * 1000 * 100) / 100,
        requestId,
      });
    return new Response(body, { status: 200, headers });
  }

  async function bootScript(req: Request, url: string, query: string, path: string, t0: number) {
    let q: ReturnType<typeof parseBootQuery>;
    let base: string;
    try {
      // A query it refuses (a repeated or malformed parameter) is the normal stack's 400, in its own words.
      q = parseBootQuery(new URLSearchParams(query));
      base = fixedBase ?? advertisedBase(o.serving.publicUrl, url);
    } catch {
      return undefined;
    }
    const decision = await resolveBoot(o.boot, q.lookup);
    if (decision.kind === "wait" && o.serving.unknownMac === "404") return undefined;
    const { kind, script } = bootScriptOf(decision, q, {
      base: () => base,
      unknownMac: o.serving.unknownMac,
      logger: o.logger,
      artifactUrl,
    });
    const requestId = requestIdOf(req);
    const headers = { ...boot![kind] };
    headers["x-request-id"] = requestId;
    headers["Content-Length"] = String(Buffer.byteLength(script));
    if (decision.kind === "boot")
      o.progress?.seen({ node: decision.node.id, stage: "bootscript", retry: q.retry });
    return answer(req, script, headers, requestId, bootCounts[kind], t0, path);
  }

  async function document(
    req: Request,
    env: unknown,
    query: string,
    path: string,
    id: string | undefined,
    name: DocumentName,
    t0: number,
  ) {
    // A conditional request may be answered 304, which the etag middleware does.
    if (req.headers.get("if-none-match") !== null) return undefined;
    const store = o.cloudInit;
    const caller = clientAddress(peerOf(req, env), req.headers.get("x-forwarded-for") ?? undefined, trusted);
    let node: NodeFacts | undefined;
    let body: string;
    let contentType: string;
    try {
      if (id !== undefined) node = await store.nodeById(id);
      else {
        const macs = query === "" ? [] : new URLSearchParams(query).getAll("mac");
        if (macs.length > 1) return undefined;
        if (macs.length === 1) {
          const mac = normalizeMac(macs[0]!);
          node = mac === undefined ? undefined : await store.nodeByMac(mac);
        } else node = await nodeAt(store, caller);
      }
      if (!node) return undefined;
      ({ body, contentType } = await cloudInitDocument(store, name, node, caller));
    } catch {
      return undefined;
    }
    const length = Buffer.byteLength(body);
    if (length >= ETAG_CHUNK) return undefined;
    const requestId = requestIdOf(req);
    const headers = { ...doc! };
    headers["content-type"] = contentType;
    // The merged user-data of a role is one string, shared by its nodes: its digest too.
    const last = lastEtag[name];
    if (last.body !== body)
      lastEtag[name] = { body, etag: `"${createHash("sha1").update(body).digest("hex")}"` };
    headers.etag = lastEtag[name].etag;
    headers["x-request-id"] = requestId;
    headers["content-length"] = String(length);
    const counts = docCounts[name];
    o.progress?.seen({ node: node.id, stage: name, address: caller });
    return answer(req, body, headers, requestId, id === undefined ? counts.mine : counts.byId, t0, path);
  }

  const hot = (req: Request, env?: unknown) => {
    if (req.method !== "GET" || doc === undefined) return undefined;
    const url = req.url;
    // Percent-encoding is decoded differently by the router and the validator: left to them.
    if (url.includes("%")) return undefined;
    const start = url.indexOf("/", url.indexOf(":") + 3);
    if (start < 0) return undefined;
    const q = url.indexOf("?", start);
    const path = q < 0 ? url.slice(start) : url.slice(start, q);
    const query = q < 0 ? "" : url.slice(q + 1);
    const t0 = performance.now();
    if (path === BOOTSCRIPT_PATH) return bootScript(req, url, query, path, t0).catch(() => undefined);
    if (!path.startsWith("/cloud-init/")) return undefined;
    const rest = path.slice("/cloud-init/".length);
    const slash = rest.indexOf("/");
    const id = slash < 0 ? undefined : rest.slice(0, slash);
    const name = (slash < 0 ? rest : rest.slice(slash + 1)) as DocumentName;
    if (!DOCUMENTS.includes(name) || (id !== undefined && !isValidId(id))) return undefined;
    return document(req, env, query, path, id, name, t0).catch(() => undefined);
  };
  return Object.assign(hot, { ready });
}

/**
 * Puts `hot` in front of `app.fetch`, so that every server of the app (and
 * `app.request()` in tests) answers the hot routes through it.
 */
export function withHotPath<A extends { fetch: (req: Request, env?: never, ctx?: never) => unknown }>(
  app: A,
  hot: HotPath,
): A {
  const normal = app.fetch.bind(app) as (req: Request, env?: unknown, ctx?: unknown) => Promise<Response>;
  const fetch = (req: Request, env?: unknown, ctx?: unknown) => {
    const answer = hot(req, env);
    return answer === undefined ? normal(req, env, ctx) : answer.then((r) => r ?? normal(req, env, ctx));
  };
  app.fetch = fetch as A["fetch"];
  return app;
}
