/**
 * Whether the edge's replica is taking changes. A replica that cannot write
 * (its file system is full, an I/O error, an event it does not understand)
 * keeps serving what it holds; this records why it stopped moving and since
 * when, for `/status`, `/metrics` and the log, so that a stale edge is
 * visible before a node boots the wrong image.
 */
import { statfsSync } from "node:fs";
import type { Logger } from "../shared/log";
import { Counter, Gauge, type Registry } from "../shared/metrics";
import { ReplicaEventError } from "./replica/events";

/**
 * `disk-full`, `io` and `read-only` come from the replica's file system and
 * pass once it is fixed; `unknown-type` and `malformed` come from the event
 * itself and need a newer edge (or `--resync`); `write`: any other refusal
 * from SQLite.
 */
export type ApplyFailureReason = "disk-full" | "io" | "read-only" | "unknown-type" | "malformed" | "write";

/** Changes (events or a snapshot) could not be written to the replica; nothing of them was kept. */
export class ApplyFailed extends Error {
  override readonly name = "ApplyFailed";
  constructor(
    readonly reason: ApplyFailureReason,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }

  /** True when the failure is the edge's own (its disk), so retrying soon may succeed. */
  get local(): boolean {
    return this.reason === "disk-full" || this.reason === "io" || this.reason === "read-only";
  }
}

const FS_REASONS: Record<string, ApplyFailureReason> = {
  ENOSPC: "disk-full",
  EDQUOT: "disk-full",
  EIO: "io",
  EROFS: "read-only",
};

/**
 * `e` as an ApplyFailed when it is the replica's (SQLite, its file system,
 * or an event it refused), else undefined: a network error is not one.
 */
export function applyFailureOf(e: unknown, dataDir: string): ApplyFailed | undefined {
  if (e instanceof ApplyFailed) return e;
  if (e instanceof ReplicaEventError) return new ApplyFailed(e.reason, e.message, { cause: e });
  if (!(e instanceof Error)) return undefined;
  const code = (e as { code?: unknown }).code;
  if (typeof code !== "string") return undefined;
  // better-sqlite3's SqliteError carries the extended result code (SQLITE_IOERR_WRITE…).
  if (code.startsWith("SQLITE_")) {
    const reason: ApplyFailureReason =
      code === "SQLITE_FULL" || (code.startsWith("SQLITE_IOERR") && noSpaceIn(dataDir))
        ? "disk-full"
        : code.startsWith("SQLITE_IOERR")
          ? "io"
          : code.startsWith("SQLITE_READONLY")
            ? "read-only"
            : "write";
    return new ApplyFailed(reason, `${describe(reason, dataDir)} (${code}: ${e.message})`, { cause: e });
  }
  const reason = FS_REASONS[code];
  return reason
    ? new ApplyFailed(reason, `${describe(reason, dataDir)} (${code}: ${e.message})`, { cause: e })
    : undefined;
}

/**
 * Whether the file system holding `dir` has no space left: SQLite reports a
 * full disk as an I/O error where it grows a file other than the database
 * (the `-shm` index: SQLITE_IOERR_SHMSIZE).
 */
function noSpaceIn(dir: string): boolean {
  try {
    return statfsSync(dir).bavail === 0;
  } catch {
    return false;
  }
}

function describe(reason: ApplyFailureReason, dataDir: string) {
  switch (reason) {
    case "disk-full":
      return `disk full: no space left for the replica in ${dataDir}`;
    case "io":
      return `I/O error writing the replica in ${dataDir}`;
    case "read-only":
      return `the replica in ${dataDir} is read-only`;
    default:
      return `the replica in ${dataDir} refused a write`;
  }
}

export interface ApplyStatus {
  /** False while changes cannot be written: the edge serves what it has. */
  ok: boolean;
  reason: ApplyFailureReason | null;
  /** What failed, for a person. */
  error: string | null;
  /** When the current state began: the first failure, or the recovery (null: never failed). */
  since: string | null;
  /** Failed attempts since `since` (0 when ok). */
  attempts: number;
}

export class ApplyState {
  private state: ApplyStatus = { ok: true, reason: null, error: null, since: null, attempts: 0 };
  private readonly failing: Gauge;
  private readonly errors: Counter;

  constructor(
    registry: Registry,
    private readonly logger: Logger,
  ) {
    this.failing = registry.register(
      new Gauge(
        "chamicore_edge_apply_failing",
        "1 while the replica cannot take changes (disk full, I/O error, an event it cannot apply); it serves what it has.",
      ),
    );
    this.errors = registry.register(
      new Counter(
        "chamicore_edge_apply_errors_total",
        "Failed attempts to write changes to the replica, by reason.",
      ),
    );
    this.failing.set(0);
  }

  status(): ApplyStatus {
    return { ...this.state };
  }

  get ok(): boolean {
    return this.state.ok;
  }

  /** Records a failed attempt; logs when the failure starts or its reason changes. */
  failed(f: ApplyFailed): void {
    this.errors.inc({ reason: f.reason });
    const s = this.state;
    if (!s.ok && s.reason === f.reason) {
      this.state = { ...s, error: f.message, attempts: s.attempts + 1 };
      return;
    }
    this.state = {
      ok: false,
      reason: f.reason,
      error: f.message,
      since: s.ok ? new Date().toISOString() : s.since,
      attempts: s.ok ? 1 : s.attempts + 1,
    };
    this.failing.set(1);
    this.logger.error(
      f.local
        ? "cannot write changes to the replica; serving it as it is and retrying"
        : "cannot apply a change event; serving the replica as it is. Upgrade the edge, or run it with --resync",
      { reason: f.reason, err: f.message },
    );
  }

  /** Records a successful write; logs the recovery. */
  succeeded(): void {
    const s = this.state;
    if (s.ok) return;
    const now = new Date();
    this.logger.info("replica takes changes again", {
      reason: s.reason,
      failedFor: s.since ? `${((now.getTime() - Date.parse(s.since)) / 1000).toFixed(1)}s` : undefined,
      attempts: s.attempts,
    });
    this.state = { ok: true, reason: null, error: null, since: now.toISOString(), attempts: 0 };
    this.failing.set(0);
  }
}
