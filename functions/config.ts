/**
 * Configuration both hosts read from the environment: the edge and the
 * control plane (on Node and on Workers) take these variables by the same
 * names, so they are defined once here. Parsed with zod; a bad value stops
 * the start with a message that names the variable.
 */
import { z } from "zod";
import type { ServingSettings } from "./env";

export const HostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[^:\s]+):(\d{1,5})$/, "must be host:port, e.g. 0.0.0.0:8080 or [::]:8080")
  .transform((s) => {
    const i = s.lastIndexOf(":");
    return { host: s.slice(0, i).replace(/^\[|\]$/g, ""), port: Number(s.slice(i + 1)) };
  })
  .refine((a) => a.port < 65536, "port must be 0–65535 (0 picks a free port)");

const Cidr = z
  .string()
  .regex(/^([0-9.]+|[0-9a-fA-F:]+)(\/\d{1,3})?$/, "must be an address or CIDR, e.g. 10.0.0.0/8 or ::1");

/** How booting nodes are answered; the same on Node and Workers. */
export const ServingEnvSchema = z.object({
  CHAMICORE_BOOT_UNKNOWN_MAC: z.enum(["retry", "404"], "must be retry or 404").default("retry"),
  CHAMICORE_TRUSTED_PROXIES: z
    .string()
    .transform((s) =>
      s
        .split(",")
        .map((x) => x.trim())
        .filter(Boolean),
    )
    .pipe(z.array(Cidr))
    .default([]),
});

/** The event stream; the same names on Node and Workers. */
export const EventsEnvSchema = z.object({
  /** NATS server(s) for the event stream; unset: events stay in the outbox (edges poll the feed). */
  NATS_URL: z.string().min(1).optional(),
  CHAMICORE_NATS_STREAM: z
    .string()
    .regex(/^[A-Za-z0-9_-]+$/, "letters, digits, '_' and '-' only")
    .default("CHAMICORE"),
  CHAMICORE_NATS_SUBJECT_PREFIX: z
    .string()
    .regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, "dot-separated tokens, e.g. chamicore or site1.chamicore")
    .default("chamicore"),
  /** Days sent events stay in the outbox for the change feed. */
  CHAMICORE_OUTBOX_RETENTION_DAYS: z.coerce.number().min(0.001).max(365).default(7),
});

/** The power agent that runs Redfish work near the BMCs (Node and the edge). */
export const PowerAgentEnvSchema = z.object({
  /** Redfish requests in flight at once across all BMCs. */
  CHAMICORE_POWER_CONCURRENCY: z.coerce.number().int().min(1).max(10_000).default(20),
  /** Seconds between two reads of a node's PowerState while a Reset is verified. */
  CHAMICORE_POWER_POLL_SECONDS: z.coerce.number().min(0.01).max(60).default(2),
});

export class ConfigError extends Error {}

/** Empty strings count as unset, as shells and .env files tend to produce them. */
export function parseEnv<S extends z.ZodType>(schema: S, env: Record<string, unknown>): z.infer<S> {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const r = schema.safeParse(cleaned);
  if (r.success) return r.data;
  // Inside a JSON value (trusted issuers), the path says which entry and field: CHAMICORE_X[0].login.clientId.
  const where = (path: PropertyKey[]) =>
    path.map((p, n) => (typeof p === "number" ? `[${p}]` : n === 0 ? String(p) : `.${String(p)}`)).join("") ||
    "?";
  const lines = r.error.issues.map((i) => `  ${where(i.path)}: ${i.message}`);
  throw new ConfigError(`invalid configuration:\n${lines.join("\n")}`);
}

export function servingSettingsOf(
  c: z.infer<typeof ServingEnvSchema> & { CHAMICORE_PUBLIC_URL?: string | undefined },
  peerAddress: ServingSettings["peerAddress"],
): ServingSettings {
  return {
    publicUrl: c.CHAMICORE_PUBLIC_URL?.replace(/\/+$/, ""),
    unknownMac: c.CHAMICORE_BOOT_UNKNOWN_MAC,
    trustedProxies: c.CHAMICORE_TRUSTED_PROXIES,
    peerAddress,
  };
}
