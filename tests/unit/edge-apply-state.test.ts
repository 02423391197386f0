/**
 * How the edge names a failure to write its replica: the disk's own
 * failures (full, I/O, read-only) apart from events it refuses, and the
 * network's errors not at all (those are the uplink's, not the replica's).
 */
import Database from "better-sqlite3";
import { describe, expect, it } from "vitest";
import { ApplyState, applyFailureOf } from "../../edge-node/apply-state";
import { ReplicaEventError } from "../../edge-node/replica/events";
import { silentLogger } from "../../shared/log";
import { Registry } from "../../shared/metrics";

const errno = (code: string) => Object.assign(new Error(`${code}: failed`), { code });

describe("applyFailureOf", () => {
  it("names the disk's failures, with the data directory", () => {
    const full = applyFailureOf(
      new Database.SqliteError("database or disk is full", "SQLITE_FULL"),
      "/var/e",
    );
    expect(full).toMatchObject({ reason: "disk-full", local: true });
    expect(full?.message).toBe(
      "disk full: no space left for the replica in /var/e (SQLITE_FULL: database or disk is full)",
    );
    expect(applyFailureOf(errno("ENOSPC"), "/var/e")?.reason).toBe("disk-full");
    expect(
      applyFailureOf(new Database.SqliteError("disk I/O error", "SQLITE_IOERR_WRITE"), "/d")?.reason,
    ).toBe("io");
    expect(applyFailureOf(errno("EROFS"), "/d")?.reason).toBe("read-only");
  });

  it("keeps refused events apart, and leaves network errors alone", () => {
    const refused = applyFailureOf(new ReplicaEventError("unknown-type", "event 7 has type 'x'"), "/d");
    expect(refused).toMatchObject({ reason: "unknown-type", local: false, message: "event 7 has type 'x'" });
    expect(applyFailureOf(new TypeError("fetch failed"), "/d")).toBeUndefined();
    expect(applyFailureOf(errno("ECONNREFUSED"), "/d")).toBeUndefined();
  });
});

describe("ApplyState", () => {
  it("reports a failure from its first attempt until the next success, on the gauge too", () => {
    const registry = new Registry();
    const state = new ApplyState(registry, silentLogger);
    const full = applyFailureOf(errno("ENOSPC"), "/d")!;
    state.failed(full);
    const first = state.status();
    state.failed(full);
    expect(state.status()).toMatchObject({ ok: false, reason: "disk-full", attempts: 2, since: first.since });
    expect(registry.render()).toContain("chamicore_edge_apply_failing 1");
    expect(registry.render()).toContain('chamicore_edge_apply_errors_total{reason="disk-full"} 2');
    state.succeeded();
    expect(state.status()).toMatchObject({ ok: true, reason: null, error: null, attempts: 0 });
    expect(registry.render()).toContain("chamicore_edge_apply_failing 0");
  });
});
