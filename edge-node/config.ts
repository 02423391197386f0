/**
 * Edge-node configuration from the environment (names fixed by the
 * configuration contract in ARCHITECTURE.md and the README), parsed once.
 */
import { existsSync } from "node:fs";
import { hostname } from "node:os";
import { z } from "zod";
import {
  EventsEnvSchema,
  HostPort,
  PowerAgentEnvSchema,
  parseEnv,
  ServingEnvSchema,
} from "../functions/config";
import { ByteAmount } from "./artifacts/size";

/** Under the 150 MB an edge is sized for, with room for a burst between two looks. */
export const DEFAULT_MEMORY_TARGET = 112 * 1024 ** 2;

/** Where Debian's `ipxe` package puts the binaries. */
export const DEBIAN_IPXE_DIR = "/usr/lib/ipxe";

export const EdgeConfigSchema = z
  .object({
    CHAMICORE_EDGE_LISTEN: HostPort.prefault("0.0.0.0:8081"),
    CHAMICORE_EDGE_DATA_DIR: z.string().min(1).default("./.chamicore-edge"),
    CHAMICORE_EDGE_NAME: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, "letters, digits, '_' and '-' (it names the durable consumer)")
      .default(
        hostname()
          .replace(/[^A-Za-z0-9_-]/g, "-")
          .slice(0, 64) || "edge",
      ),
    /**
     * The site whose BMCs this edge reaches: it runs the power tasks and discovery scans of
     * BMC endpoints and targets with this `site` (with NATS). Defaults to the edge's name.
     */
    CHAMICORE_EDGE_SITE: z
      .string()
      .regex(
        /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/,
        "1–63 letters, digits, '.', '_' or '-' (as a BMC endpoint's site)",
      )
      .optional(),
    /**
     * The control API the edge follows. Unset: the edge serves what bundles fed it
     * (`chamicore edge import`, docs/air-gapped.md), and refuses to start before the first.
     */
    CHAMICORE_CONTROL_URL: z
      .url("must be the control API's base URL, e.g. https://chamicore.example.org")
      .optional(),
    /** The keys bundles must be signed by: PEM, JWK or JWKS, inline or in files (edge-node/bundles/trust.ts). */
    CHAMICORE_EDGE_TRUSTED_KEYS: z.string().min(1).optional(),
    CHAMICORE_EDGE_CLIENT_ID: z.string().min(1).optional(),
    CHAMICORE_EDGE_CLIENT_SECRET: z.string().min(1).optional(),
    CHAMICORE_EDGE_PUBLIC_URL: z.url().optional(),
    /** TFTP for the iPXE binaries (edge-node/tftp/), e.g. 0.0.0.0:69; unset: off. Port 0 picks a free one. */
    CHAMICORE_EDGE_TFTP_LISTEN: HostPort.optional(),
    /** The iPXE binaries, over TFTP and `/boot/v1/ipxe/{file}`; default Debian's /usr/lib/ipxe when it exists. */
    CHAMICORE_EDGE_IPXE_DIR: z
      .string()
      .min(1)
      .optional()
      .transform((d) => d ?? (existsSync(DEBIAN_IPXE_DIR) ? DEBIAN_IPXE_DIR : undefined)),
    /** Seconds an idle keep-alive connection is held open (Node's default of 5 drops them mid-storm). */
    CHAMICORE_EDGE_KEEPALIVE_SECONDS: z.coerce.number().min(1).max(3600).default(60),
    /**
     * Resident memory above which the single executable runs a full garbage collection
     * (edge-node/memory-governor.ts), e.g. 112M; 0: never (the engine's own policy alone).
     */
    CHAMICORE_EDGE_MEMORY_TARGET: ByteAmount(0).default(DEFAULT_MEMORY_TARGET),
    /**
     * Seconds between sends of boot progress to the control plane (docs/boot-progress.md): a
     * control plane short of capacity during a storm of many racks can take it less often.
     */
    CHAMICORE_EDGE_PROGRESS_SECONDS: z.coerce.number().min(0.1).max(3600).default(1),
    /** Seconds between change-feed polls when NATS is not in use. */
    CHAMICORE_EDGE_POLL_SECONDS: z.coerce.number().min(0.1).max(3600).default(2),
    /**
     * Seconds the edge may stay behind the control plane's head without applying anything before
     * it calls the stream stalled, catches up from the change feed and recreates its consumer.
     */
    CHAMICORE_EDGE_STALL_SECONDS: z.coerce.number().min(0.5).max(3600).default(5),
    /**
     * Disk the artifact cache (`<CHAMICORE_EDGE_DATA_DIR>/artifacts`, edge-node/artifacts/) may take,
     * in bytes with an optional K, M, G or T suffix (powers of 1024). Unwanted artifacts are evicted
     * to make room; wanted ones beyond it are not cached (nodes fetch them from the origin).
     */
    CHAMICORE_EDGE_ARTIFACT_BUDGET: ByteAmount().default(20 * 1024 ** 3),
    /** Artifact downloads at once. */
    CHAMICORE_EDGE_ARTIFACT_CONCURRENCY: z.coerce.number().int().min(1).max(32).default(2),
    /** Bytes per second across all artifact downloads (e.g. 50M); unset: no cap. */
    CHAMICORE_EDGE_ARTIFACT_BANDWIDTH: ByteAmount().optional(),
    /** Seconds between looks for artifacts labelled site=<this edge's site> (staged ahead of boot parameters). */
    CHAMICORE_EDGE_SITE_ARTIFACTS_SECONDS: z.coerce.number().min(1).max(86400).default(60),
    /** Kea Control Agent; unset turns the Kea sync off. Credentials in the URL become HTTP Basic. */
    KEA_CONTROL_URL: z.url("must be the Kea Control Agent's URL, e.g. http://127.0.0.1:8000").optional(),
    /** Seconds between full reads of Kea (changes in between go in as they come). */
    CHAMICORE_KEA_RECONCILE_SECONDS: z.coerce.number().min(5).max(86400).default(300),
    CHAMICORE_LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
    ...EventsEnvSchema.pick({
      NATS_URL: true,
      CHAMICORE_NATS_STREAM: true,
      CHAMICORE_NATS_SUBJECT_PREFIX: true,
    }).shape,
    ...ServingEnvSchema.shape,
    ...PowerAgentEnvSchema.shape,
  })
  .superRefine((c, ctx) => {
    if (!c.CHAMICORE_EDGE_CLIENT_ID !== !c.CHAMICORE_EDGE_CLIENT_SECRET)
      ctx.addIssue({
        code: "custom",
        path: [c.CHAMICORE_EDGE_CLIENT_ID ? "CHAMICORE_EDGE_CLIENT_SECRET" : "CHAMICORE_EDGE_CLIENT_ID"],
        message: "CHAMICORE_EDGE_CLIENT_ID and CHAMICORE_EDGE_CLIENT_SECRET go together",
      });
    if (c.CHAMICORE_EDGE_TFTP_LISTEN && !c.CHAMICORE_EDGE_IPXE_DIR)
      ctx.addIssue({
        code: "custom",
        path: ["CHAMICORE_EDGE_IPXE_DIR"],
        message: `TFTP is on (CHAMICORE_EDGE_TFTP_LISTEN) but there is no ${DEBIAN_IPXE_DIR}: say where the iPXE binaries are`,
      });
  });

export type EdgeConfig = z.infer<typeof EdgeConfigSchema>;

export const loadEdgeConfig = (env: Record<string, string | undefined>): EdgeConfig =>
  parseEnv(EdgeConfigSchema, env);
