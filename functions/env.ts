/**
 * What handlers can reach through the Hono context: the stores for this
 * request and the process-wide dependencies, both set by the entry point.
 */
import type { MiddlewareHandler } from "hono";
import type { Logger } from "../shared/log";
import type { Registry } from "../shared/metrics";
import type { ArtifactServing } from "./artifacts/store";
import type { Keyring } from "./auth/keyring";
import type { AuthSettings } from "./auth/settings";
import type { AuthStores } from "./auth/store";
import type { Principal } from "./auth/tokens";
import type { DiscoverySettings } from "./discovery/service";
import type { McpMode } from "./mcp/catalog";
import type { PowerSettings } from "./power/service";
import type { ProgressObserver } from "./progress/store";
import type { Stores } from "./stores";

/** The Swagger UI files the docs page loads. */
export type DocsAsset = "swagger-ui-bundle.js" | "swagger-ui.css";

export interface AppDeps {
  logger: Logger;
  registry: Registry;
  /** "node" or "workerd", reported by /version. */
  runtime: string;
  /**
   * Sets `c.var.stores` for the request and releases it afterwards. On Node
   * it hands out one shared pool; on Workers it opens a connection per request.
   */
  stores: MiddlewareHandler<AppEnv>;
  /** How the unauthenticated boot and cloud-init endpoints answer booting nodes. */
  serving: ServingSettings;
  /** Auth settings and this isolate's signing-key cache. */
  auth: {
    settings: AuthSettings;
    keyring: Keyring;
    /** This isolate's cache of the bundle-signing key (functions/bundles/). */
    bundleKeyring: Keyring;
    /**
     * Runs before the first client-credentials grant of this isolate. Workers
     * have no start-up hook, so they ensure the bootstrap account here; Node
     * does it at start and leaves this unset.
     */
    beforeFirstToken?: (stores: AuthStores) => Promise<void>;
  };
  /** Power request limits and the in-process agent's wake-up; default: 20 nodes, no agent. */
  power?: PowerSettings;
  /**
   * Where the boot-script and cloud-init handlers say which node reached
   * which stage: an edge's recorder. Unset on the control plane, which
   * records only phone-homes sent to it, straight into its store.
   */
  progress?: ProgressObserver;
  /**
   * Artifact bytes and where scripts send nodes for them: the data directory
   * or an R2 bucket on the control plane, the verified cache on an edge.
   * Unset: uploads answer 503, and the content route only redirects.
   */
  artifacts?: ArtifactServing;
  /** Discovery's in-process agent wake-up; default: none. */
  discovery?: DiscoverySettings;
  /** The MCP server at /mcp (functions/mcp): read-only unless both variables say read-write. */
  mcp?: { mode: McpMode };
  /**
   * The Swagger UI files behind /api/docs, read on Node from the
   * swagger-ui-dist package. On the Worker they are static assets
   * (wrangler.toml [assets]) answered before the Worker runs; unset: 404.
   */
  docsAssets?: (name: DocsAsset) => string | undefined;
  /**
   * The web UI's built files under /ui/, on Node (a static file handler over
   * dist/assets). On the Worker they are static assets answered before it
   * runs; unset: /ui/ answers 404.
   */
  uiAssets?: MiddlewareHandler<AppEnv>;
  /**
   * Checks that the caller holds one of `anyOf`; throws ApiError 401/403
   * otherwise (functions/auth/authorize.ts). Tests of handlers alone may
   * leave it out, which opens every route.
   */
  authorize?: (c: Parameters<MiddlewareHandler<AppEnv>>[0], anyOf: readonly string[]) => Promise<void>;
}

export interface ServingSettings {
  /**
   * Base URL advertised to booting nodes (boot script chains, cloud-init
   * `ds=` URL): CHAMICORE_PUBLIC_URL on the control plane,
   * CHAMICORE_EDGE_PUBLIC_URL on an edge; undefined means the request's origin.
   */
  publicUrl: string | undefined;
  /** CHAMICORE_BOOT_UNKNOWN_MAC: "retry" (an iPXE script that sleeps and re-chains) or "404". */
  unknownMac: "retry" | "404";
  /** CHAMICORE_TRUSTED_PROXIES: CIDRs whose X-Forwarded-For is believed. */
  trustedProxies: string[];
  /** The TCP peer's address of a request (runtime-specific), or undefined if unknown. */
  peerAddress: (c: Parameters<MiddlewareHandler<AppEnv>>[0]) => string | undefined;
}

export type AppEnv = {
  Variables: {
    stores: Stores;
    deps: AppDeps;
    requestId: string;
    /** The verified caller, on routes that need a token. */
    principal: Principal;
    /** The client id a token request tried, for its audit record (functions/audit/middleware.ts). */
    auditSubject: string;
    /** How a request ended, for its audit record when the status cannot say (an IdP login's 302). */
    auditAction: string;
  };
};
