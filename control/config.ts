/**
 * Control-plane configuration from the environment (names fixed by the
 * configuration contract in the README), parsed once with zod. A bad value
 * stops the start with a message that names the variable.
 */
import { z } from "zod";
import {
  DEFAULT_LOGIN_LIMITS,
  MemoryLoginThrottle,
  PlatformLoginThrottle,
  type RateLimitBinding,
} from "../functions/auth/login-throttle";
import {
  type AuthSettings,
  DEFAULT_AUDIENCE,
  DEFAULT_ISSUER,
  DEFAULT_TOKEN_TTL,
  MAX_TOKEN_TTL,
  TrustedIssuersJson,
} from "../functions/auth/settings";
import {
  EventsEnvSchema,
  HostPort,
  PowerAgentEnvSchema,
  parseEnv,
  ServingEnvSchema,
} from "../functions/config";
import { DEFAULT_MAX_NODES } from "../functions/power/service";
import { importMasterKey } from "../shared/auth/crypto";
import { ID_PATTERN, ID_RULE } from "../shared/ids";

const PostgresUrl = z
  .string()
  .refine((s) => /^postgres(ql)?:\/\//.test(s), "must be a postgres:// or postgresql:// URL");

const MasterKey = z.string().refine((s) => {
  try {
    return atob(s.trim().replace(/-/g, "+").replace(/_/g, "/")).length === 32;
  } catch {
    return false;
  }
}, "must be base64 of 32 random bytes (make one with: openssl rand -base64 32)");

/** Auth variables, shared by the Node and Workers entries. */
export const AuthEnvSchema = z.object({
  CHAMICORE_MASTER_KEY: MasterKey.optional(),
  CHAMICORE_BOOTSTRAP_CLIENT_ID: z.string().regex(ID_PATTERN, `must be ${ID_RULE}`).optional(),
  CHAMICORE_BOOTSTRAP_CLIENT_SECRET: z.string().min(16, "must be at least 16 characters").optional(),
  CHAMICORE_DEV_MODE: z
    .enum(["true", "false"], "must be true or false")
    .default("false")
    .transform((v) => v === "true"),
  CHAMICORE_TOKEN_TTL: z.coerce
    .number()
    .int()
    .min(60, "must be at least 60 seconds")
    .max(MAX_TOKEN_TTL, `must be at most ${MAX_TOKEN_TTL} seconds (a day)`)
    .default(DEFAULT_TOKEN_TTL),
  CHAMICORE_TRUSTED_ISSUERS: TrustedIssuersJson.optional(),
  CHAMICORE_KEY_ALGORITHM: z.enum(["ES256", "RS256"]).default("ES256"),
  CHAMICORE_PUBLIC_URL: z.url().optional(),
  /** Failed logins per client id per window before the token endpoint answers 429; 0: no limit. */
  CHAMICORE_LOGIN_MAX_FAILURES_PER_CLIENT: z.coerce
    .number()
    .int()
    .min(0)
    .max(1_000_000)
    .default(DEFAULT_LOGIN_LIMITS.perClient),
  /** Failed logins per source address per window; 0: no limit. */
  CHAMICORE_LOGIN_MAX_FAILURES_PER_ADDRESS: z.coerce
    .number()
    .int()
    .min(0)
    .max(1_000_000)
    .default(DEFAULT_LOGIN_LIMITS.perAddress),
  /** Length of the window those failures are counted in, seconds. */
  CHAMICORE_LOGIN_WINDOW_SECONDS: z.coerce
    .number()
    .int()
    .min(1, "must be at least 1 second")
    .max(86_400, "must be at most 86400 seconds (a day)")
    .default(DEFAULT_LOGIN_LIMITS.windowSeconds),
});

/** Power requests; the same names on Node and Workers. */
export const PowerEnvSchema = z.object({
  /** Nodes one power request may name (PCS's bulk limit). */
  CHAMICORE_POWER_MAX_NODES: z.coerce.number().int().min(1).max(100_000).default(DEFAULT_MAX_NODES),
});

/** The discovery scheduler (Node only). */
export const DiscoveryAgentEnvSchema = z.object({
  /** Seconds between two looks for targets whose scheduled scan is due. */
  CHAMICORE_DISCOVERY_SCHEDULE_POLL_SECONDS: z.coerce.number().min(0.1).max(3600).default(30),
});

/** The audit trail; the same name on Node and Workers. */
export const AuditEnvSchema = z.object({
  /** Days audit records are kept (pruned by `chamicore serve` and the Worker's cron). */
  CHAMICORE_AUDIT_RETENTION_DAYS: z.coerce
    .number("must be a number of days")
    .min(0.001, "must be at least 0.001 days")
    .max(36_500, "must be at most 36500 days")
    .default(90),
});

/** The Worker's database when no Hyperdrive binding is present (Workers only). */
export const WorkerDbEnvSchema = z.object({
  DATABASE_URL: PostgresUrl.optional(),
  /**
   * `ws://` or `wss://` URL of a WebSocket-to-TCP proxy in front of a plain
   * Postgres; unset: hosted Neon's own endpoint. The driver adds
   * `?address=<host>:<port>` of DATABASE_URL to it.
   */
  CHAMICORE_NEON_WS_PROXY: z
    .url({ protocol: /^wss?$/, error: "must be a ws:// or wss:// URL, e.g. ws://127.0.0.1:8081/v1" })
    .optional(),
});

const bootstrapPair = (c: z.infer<typeof AuthEnvSchema>, ctx: z.RefinementCtx) => {
  if (!c.CHAMICORE_BOOTSTRAP_CLIENT_ID !== !c.CHAMICORE_BOOTSTRAP_CLIENT_SECRET)
    ctx.addIssue({
      code: "custom",
      path: [
        c.CHAMICORE_BOOTSTRAP_CLIENT_ID
          ? "CHAMICORE_BOOTSTRAP_CLIENT_SECRET"
          : "CHAMICORE_BOOTSTRAP_CLIENT_ID",
      ],
      message: "CHAMICORE_BOOTSTRAP_CLIENT_ID and CHAMICORE_BOOTSTRAP_CLIENT_SECRET go together",
    });
};

export const WorkerAuthEnvSchema = AuthEnvSchema.superRefine(bootstrapPair);

const ControlBase = z.object({
  CHAMICORE_LISTEN: HostPort.prefault("0.0.0.0:8080"),
  CHAMICORE_DATA_DIR: z.string().min(1).default("./.chamicore"),
  DATABASE_URL: PostgresUrl.optional(),
  CHAMICORE_LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
  ...EventsEnvSchema.shape,
  /** Unauthenticated /metrics for Prometheus on its own address (Node only); unset: off. */
  CHAMICORE_METRICS_LISTEN: HostPort.optional(),
  ...AuthEnvSchema.shape,
  ...ServingEnvSchema.shape,
  ...PowerEnvSchema.shape,
  ...PowerAgentEnvSchema.shape,
  ...DiscoveryAgentEnvSchema.shape,
  ...AuditEnvSchema.shape,
});

/** What `chamicore migrate` needs: only the database. */
export const MigrateConfigSchema = ControlBase.pick({
  CHAMICORE_DATA_DIR: true,
  DATABASE_URL: true,
  CHAMICORE_LOG_LEVEL: true,
});

export const ControlConfigSchema = ControlBase.superRefine((c, ctx) => {
  bootstrapPair(c, ctx);
  // With a shared database, a key file on one host would leave other hosts unable to read secrets.
  if (c.DATABASE_URL && !c.CHAMICORE_MASTER_KEY)
    ctx.addIssue({
      code: "custom",
      path: ["CHAMICORE_MASTER_KEY"],
      message: "is required with DATABASE_URL (make one with: openssl rand -base64 32, and keep it safe)",
    });
});

export type ControlConfig = z.infer<typeof ControlConfigSchema>;

export const loadControlConfig = (env: Record<string, string | undefined>): ControlConfig =>
  parseEnv(ControlConfigSchema, env);

/**
 * The auth settings of a parsed configuration; the master key is imported on
 * first use. `loginLimiters`: the Worker's rate limiting bindings, which
 * count failed logins across isolates beside each isolate's own counts.
 */
export function authSettingsOf(
  c: z.infer<typeof AuthEnvSchema>,
  masterKeyB64: string,
  loginLimiters: { client?: RateLimitBinding; address?: RateLimitBinding } = {},
): AuthSettings {
  let key: ReturnType<AuthSettings["masterKey"]> | undefined;
  const local = new MemoryLoginThrottle({
    perClient: c.CHAMICORE_LOGIN_MAX_FAILURES_PER_CLIENT,
    perAddress: c.CHAMICORE_LOGIN_MAX_FAILURES_PER_ADDRESS,
    windowSeconds: c.CHAMICORE_LOGIN_WINDOW_SECONDS,
  });
  const publicUrl = c.CHAMICORE_PUBLIC_URL?.replace(/\/+$/, "");
  return {
    issuer: publicUrl ?? DEFAULT_ISSUER,
    audience: DEFAULT_AUDIENCE,
    tokenTtl: c.CHAMICORE_TOKEN_TTL,
    devMode: c.CHAMICORE_DEV_MODE,
    trustedIssuers: c.CHAMICORE_TRUSTED_ISSUERS ?? [],
    bootstrap:
      c.CHAMICORE_BOOTSTRAP_CLIENT_ID && c.CHAMICORE_BOOTSTRAP_CLIENT_SECRET
        ? { clientId: c.CHAMICORE_BOOTSTRAP_CLIENT_ID, clientSecret: c.CHAMICORE_BOOTSTRAP_CLIENT_SECRET }
        : undefined,
    keyAlgorithm: c.CHAMICORE_KEY_ALGORITHM,
    masterKey: () => (key ??= importMasterKey(masterKeyB64)),
    loginThrottle:
      loginLimiters.client || loginLimiters.address
        ? new PlatformLoginThrottle(local, loginLimiters, c.CHAMICORE_LOGIN_WINDOW_SECONDS)
        : local,
  };
}
