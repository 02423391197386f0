/**
 * Control-plane configuration from the environment (names fixed by the
 * configuration contract in the README), parsed once with zod. A bad value
 * stops the start with a message that names the variable.
 */
import { z } from "zod";

const HostPort = z
  .string()
  .regex(/^(\[[0-9a-fA-F:]+\]|[^:\s]+):(\d{1,5})$/, "must be host:port, e.g. 0.0.0.0:8080 or [::]:8080")
  .transform((s) => {
    const i = s.lastIndexOf(":");
    return { host: s.slice(0, i).replace(/^\[|\]$/g, ""), port: Number(s.slice(i + 1)) };
  })
  .refine((a) => a.port < 65536, "port must be 0–65535 (0 picks a free port)");

const PostgresUrl = z
  .string()
  .refine((s) => /^postgres(ql)?:\/\//.test(s), "must be a postgres:// or postgresql:// URL");

export const ControlConfigSchema = z.object({
  CHAMICORE_LISTEN: HostPort.prefault("0.0.0.0:8080"),
  CHAMICORE_DATA_DIR: z.string().min(1).default("./.chamicore"),
  DATABASE_URL: PostgresUrl.optional(),
  CHAMICORE_PUBLIC_URL: z.url().optional(),
  CHAMICORE_LOG_LEVEL: z.enum(["debug", "info", "warn", "error"]).default("info"),
});

export type ControlConfig = z.infer<typeof ControlConfigSchema>;

export class ConfigError extends Error {}

/** Empty strings count as unset, as shells and .env files tend to produce them. */
export function loadControlConfig(env: Record<string, string | undefined>): ControlConfig {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v !== ""));
  const r = ControlConfigSchema.safeParse(cleaned);
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => `  ${String(i.path[0] ?? "?")}: ${i.message}`);
  throw new ConfigError(`invalid configuration:\n${lines.join("\n")}`);
}
