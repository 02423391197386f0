/**
 * Structured logging: one JSON object per line on stdout (Node) or the
 * console (workerd, where `wrangler tail` picks it up). No dependencies, so
 * it runs unchanged in both runtimes.
 */
export type LogLevel = "debug" | "info" | "warn" | "error";
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  child(fields: Record<string, unknown>): Logger;
  /** Whether lines of `level` are written: a hot path builds no fields for a line nobody reads. */
  enabled?(level: LogLevel): boolean;
}

/** Fields every line gets from where it is written (the active trace's ids): set by the tracing SDK. */
let lineContext: () => Record<string, unknown> | undefined = () => undefined;
export function setLineContext(f: () => Record<string, unknown> | undefined): void {
  lineContext = f;
}

export function createLogger(
  opts: { level?: LogLevel; base?: Record<string, unknown>; write?: (line: string) => void } = {},
): Logger {
  const min = ORDER[opts.level ?? "info"];
  const base = opts.base ?? {};
  const write = opts.write ?? ((line: string) => console.log(line));
  const emit = (level: LogLevel, msg: string, fields?: Record<string, unknown>) => {
    if (ORDER[level] < min) return;
    write(
      JSON.stringify({ time: new Date().toISOString(), level, msg, ...base, ...lineContext(), ...fields }),
    );
  };
  return {
    debug: (m, f) => emit("debug", m, f),
    info: (m, f) => emit("info", m, f),
    warn: (m, f) => emit("warn", m, f),
    error: (m, f) => emit("error", m, f),
    child: (fields) => createLogger({ ...opts, base: { ...base, ...fields } }),
    enabled: (level) => ORDER[level] >= min,
  };
}

/** A logger that drops everything (tests that do not look at logs). */
export const silentLogger: Logger = createLogger({ write: () => {} });
