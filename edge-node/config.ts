/**
 * Edge-node configuration from the environment (names fixed by the
 * configuration contract in ARCHITECTURE.md and the README), parsed once.
 */
import { hostname } from "node:os";
import { z } from "zod";
import {
  EventsEnvSchema,
  HostPort,
  PowerAgentEnvSchema,
  parseEnv,
  ServingEnvSchema,
} from "../control/config";

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
    CHAMICORE_CONTROL_URL: z.url("must be the control API's base URL, e.g. https://chamicore.example.org"),
    CHAMICORE_EDGE_CLIENT_ID: z.string().min(1).optional(),
    CHAMICORE_EDGE_CLIENT_SECRET: z.string().min(1).optional(),
    CHAMICORE_EDGE_PUBLIC_URL: z.url().optional(),
    /** Seconds an idle keep-alive connection is held open (Node's default of 5 drops them mid-storm). */
    CHAMICORE_EDGE_KEEPALIVE_SECONDS: z.coerce.number().min(1).max(3600).default(60),
    /** Seconds between change-feed polls when NATS is not in use. */
    CHAMICORE_EDGE_POLL_SECONDS: z.coerce.number().min(0.1).max(3600).default(2),
    /**
     * Seconds the edge may stay behind the control plane's head without applying anything before
     * it calls the stream stalled, catches up from the change feed and recreates its consumer.
     */
    CHAMICORE_EDGE_STALL_SECONDS: z.coerce.number().min(0.5).max(3600).default(5),
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
  });

export type EdgeConfig = z.infer<typeof EdgeConfigSchema>;

export const loadEdgeConfig = (env: Record<string, string | undefined>): EdgeConfig =>
  parseEnv(EdgeConfigSchema, env);
