/**
 * The edge node's replica of what booting nodes depend on: a SQLite database
 * (better-sqlite3 on Node, bun:sqlite in the executable: ./sqlite.ts) filled from the control plane's snapshot and change
 * events, and read by the same boot and cloud-init handlers as the control
 * plane through `boot` and `cloudInit`.
 *
 * Durability. WAL with `synchronous = FULL`: every commit is fsynced before
 * `applyEvents` returns. NORMAL would survive `kill -9` (the WAL is in the OS
 * page cache) but not a power cut or kernel crash, which can roll back the
 * last commits — and the caller acks NATS after each commit, so an acked
 * event lost that way is never redelivered and the replica silently diverges.
 * FULL costs one fsync per batch, not per event.
 *
 * Ordering and idempotence. Every row carries the position of the event (or
 * snapshot) that last wrote it, and a deleted row leaves a tombstone with
 * the deleting position until the next snapshot. An event at or below the
 * replica's position (as of the start of the batch) is skipped; any other
 * event is applied only to a row last written by a lower position. So a
 * batch applied twice changes nothing, and events out of order within a
 * batch converge on the same rows as in order. The new position (the highest
 * applied) is written in the batch's own transaction: rows and position
 * commit together or not at all. Positions need not be contiguous (the
 * outbox sequence has holes where transactions rolled back), so gaps are the
 * caller's to detect.
 *
 * Unknown event types and malformed events throw `ReplicaEventError` and
 * roll the batch back (see events.ts).
 */
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import type { Snapshot } from "../../functions/events/store";
import type { Interface } from "../../functions/inventory/schemas";
import type { Resource } from "../../shared/envelope";
import type { ChangeEvent } from "../../shared/events";
import type { DhcpHost } from "../kea/reservations";
import { BootIndex } from "./boot-index";
import { CloudInitIndex } from "./cloud-init-index";
import {
  envelopeOf,
  parseEventType,
  REPLICATED_RESOURCES,
  ReplicaEventError,
  type ReplicatedResource,
} from "./events";
import { replicaMigrations } from "./migrations";
import { MalformedSnapshot, type SnapshotSource, snapshotSource } from "./snapshot-document";
import type { OpenSqlite, SqliteDatabase, SqliteStatement } from "./sqlite";
import { ReplicaWriter } from "./writer";

export { REPLICA_MIGRATIONS_DIR } from "./migrations";

/** The replica database's file name inside the data directory. */
export const REPLICA_FILE = "replica.db";

export interface ReplicaStatus {
  /** Last applied outbox position; 0: never synced. */
  position: number;
  /** When the last snapshot was applied (ISO), or null. */
  snapshotAt: string | null;
  /** When a snapshot or at least one event was last applied (ISO), or null. */
  lastAppliedAt: string | null;
  /** The control plane's `time` of the event at `position` (ISO), or null (snapshot only, or never synced). */
  lastEventTime: string | null;
  /** Rows per replicated resource (revocations: active ones). */
  counts: Record<ReplicatedResource, number>;
  /** The control plane it follows, what fed it last and when: see `Feeding`. */
  feed: { source: string | null; by: string | null; at: string | null };
}

/**
 * What fed a snapshot or a batch: the live control plane, or a bundle
 * carried in by hand (`bundle:<file name>`). Recorded in the same
 * transaction as the data, with the source control plane's id when known.
 */
export interface Feeding {
  by: string;
  source?: string | undefined;
}

export interface ReplicaOptions {
  /** The runtime's SQLite: edge-node/node/sqlite.ts or edge-node/bun/sqlite.ts. */
  sqlite: OpenSqlite;
  /** Where the SQL migrations are (default: built into the executable, else the checkout's). */
  migrationsFolder?: string;
  /**
   * Build the in-memory indexes the boot and cloud-init answers read
   * (default true). An import, which only writes, leaves them out: they
   * are the bulk of the memory a large site takes.
   */
  serving?: boolean;
  /**
   * Keep the WAL index in this process's memory instead of a `-shm` file
   * (locking_mode EXCLUSIVE): opens on a full disk, where that file cannot be
   * created, but no other process can read the replica while it is open.
   */
  exclusive?: boolean;
}

/** Table and key column holding each resource, in the snapshot's order. */
const TABLES: Record<ReplicatedResource, { table: string; key: string }> = {
  components: { table: "components", key: "id" },
  interfaces: { table: "interfaces", key: "id" },
  groups: { table: "groups", key: "name" },
  partitions: { table: "partitions", key: "name" },
  bootparams: { table: "boot_params", key: "id" },
  payloads: { table: "payloads", key: "id" },
  revocations: { table: "revocations", key: "jti" },
};

interface StateRow {
  position: number;
  snapshot_at: string | null;
  last_applied_at: string | null;
  last_event_time: string | null;
  source_id: string | null;
  fed_by: string | null;
  fed_at: string | null;
}

export class Replica {
  /** Kept in memory, in step with every applied snapshot, batch and reset (./boot-index.ts, ./cloud-init-index.ts). */
  readonly boot: BootIndex;
  readonly cloudInit: CloudInitIndex;
  private readonly writer: ReplicaWriter;
  private readonly stmt: {
    state: SqliteStatement<[], StateRow>;
    fed: SqliteStatement<[string | null, string, string]>;
    dataVersion: SqliteStatement<[], number>;
    setState: SqliteStatement<[number, string | null, string | null, string | null]>;
    applied: SqliteStatement<[number, string, string | null]>;
    docs: Record<ReplicatedResource, (now: number) => string[]>;
    counts: SqliteStatement<[{ now: number }], Record<ReplicatedResource, number>>;
    revoked: SqliteStatement<
      [{ jti: string; sub: string | null; issuedAt: number | null; now: number }],
      number
    >;
    pruneRevocations: SqliteStatement<[number]>;
    interfaces: SqliteStatement<[], { component_id: string; id: string; mac_address: string; doc: string }>;
  };

  private constructor(
    private readonly db: SqliteDatabase,
    /** The directory holding replica.db (and the snapshot spool while one is taken). */
    readonly dataDir: string,
    /** Whether `boot` and `cloudInit` are kept (ReplicaOptions.serving). */
    private readonly serving = true,
  ) {
    this.writer = new ReplicaWriter(db);
    this.boot = new BootIndex(db, serving);
    this.cloudInit = new CloudInitIndex(db, serving);
    // Revocations only while in force, as the snapshot has them (`@now`: epoch milliseconds).
    const active = (r: ReplicatedResource) => (r === "revocations" ? "where expires_at > @now" : "");
    const docs = (r: ReplicatedResource) => {
      const { table, key } = TABLES[r];
      const s = db
        .prepare<unknown[], string>(`select doc from ${table} ${active(r)} order by ${key}`)
        .pluck();
      return (now: number) => (r === "revocations" ? s.all({ now }) : s.all());
    };
    this.stmt = {
      state: db.prepare(
        "select position, snapshot_at, last_applied_at, last_event_time, source_id, fed_by, fed_at from replica_state",
      ),
      fed: db.prepare("update replica_state set source_id = coalesce(?, source_id), fed_by = ?, fed_at = ?"),
      dataVersion: db.prepare<[], number>("pragma data_version").pluck(),
      setState: db.prepare(
        "update replica_state set position = ?, snapshot_at = ?, last_applied_at = ?, last_event_time = ?",
      ),
      applied: db.prepare("update replica_state set position = ?, last_applied_at = ?, last_event_time = ?"),
      docs: Object.fromEntries(REPLICATED_RESOURCES.map((r) => [r, docs(r)])) as Replica["stmt"]["docs"],
      counts: db.prepare(
        `select ${REPLICATED_RESOURCES.map(
          (r) => `(select count(*) from ${TABLES[r].table} ${active(r)}) as ${r}`,
        ).join(", ")}`,
      ),
      revoked: db
        .prepare<[{ jti: string; sub: string | null; issuedAt: number | null; now: number }], number>(
          `select 1 from revocations where expires_at > @now
             and (jti = @jti or (subject = @sub and issued_before > @issuedAt)) limit 1`,
        )
        .pluck(),
      pruneRevocations: db.prepare("delete from revocations where expires_at <= ?"),
      interfaces: db.prepare("select component_id, id, mac_address, doc from interfaces order by id"),
    };
  }

  /** Opens (creating when absent) `<dataDir>/replica.db` and brings its schema up to date. */
  static open(dataDir: string, opts: ReplicaOptions): Replica {
    mkdirSync(dataDir, { recursive: true });
    const db = opts.sqlite(join(dataDir, REPLICA_FILE));
    try {
      if (opts.exclusive) db.exec("pragma locking_mode = EXCLUSIVE");
      db.exec("pragma journal_mode = WAL");
      db.exec("pragma synchronous = FULL");
      // A second reader (a CLI status command) waits for a commit instead of failing.
      db.exec("pragma busy_timeout = 5000");
      // SQLite's own default page cache (2 MB), which bun:sqlite keeps but better-sqlite3 raises to
      // 16 MB: requests are answered from the in-memory indexes, and loading them reads every
      // row, which would fill the larger cache for nothing.
      db.exec("pragma cache_size = -2000");
      db.migrate(replicaMigrations(opts.migrationsFolder));
      db.prepare("insert or ignore into replica_state (id, position) values (1, 0)").run();
      return new Replica(db, dataDir, opts.serving ?? true);
    } catch (e) {
      db.close();
      throw e;
    }
  }

  close(): void {
    this.db.close();
  }

  /** Last applied outbox position (0: never synced). */
  position(): number {
    return this.stmt.state.get()!.position;
  }

  status(): ReplicaStatus {
    const s = this.stmt.state.get()!;
    return {
      position: s.position,
      snapshotAt: s.snapshot_at,
      lastAppliedAt: s.last_applied_at,
      lastEventTime: s.last_event_time,
      counts: { ...this.stmt.counts.get({ now: Date.now() })! },
      feed: { source: s.source_id, by: s.fed_by, at: s.fed_at },
    };
  }

  private dataVersion: number | undefined;

  /**
   * Whether another process committed to the database since the last call
   * (`chamicore edge import` beside a running edge): SQLite's data_version
   * moves for other connections' commits only. The indexes are then reloaded.
   */
  reloadIfChangedElsewhere(): boolean {
    const v = this.stmt.dataVersion.get()!;
    const first = this.dataVersion === undefined;
    if (v === this.dataVersion) return false;
    this.dataVersion = v;
    if (first) return false;
    this.reloadIndexes();
    return true;
  }

  /** The id of the control plane the replica follows; null before one was recorded. */
  source(): string | null {
    return this.stmt.state.get()!.source_id;
  }

  /**
   * One transaction: replace everything with the snapshot; position :=
   * snapshot.position, and the source := the snapshot's (or `feeding`'s).
   */
  applySnapshot(snapshot: Snapshot | SnapshotSource, feeding: Feeding = { by: "live" }): void {
    const s = "list" in snapshot ? snapshot : snapshotSource(snapshot);
    const position = s.position;
    if (typeof position !== "number" || !Number.isSafeInteger(position) || position < 0)
      throw new ReplicaEventError("malformed", `snapshot position ${String(position)} is not a position`);
    this.db
      .transaction(() => {
        this.writer.clear();
        for (const r of REPLICATED_RESOURCES) {
          const items = s.list(r);
          if (!items) throw new ReplicaEventError("malformed", `the snapshot has no list of ${r}`);
          let i = 0;
          try {
            for (const item of items) {
              const where = `snapshot ${r}[${i++}]`;
              this.writer.write(r, envelopeOf(item, where), position, where);
            }
          } catch (e) {
            // A lazily parsed element that is not JSON fails here, inside the transaction: nothing is kept.
            if (e instanceof SyntaxError || e instanceof MalformedSnapshot)
              throw new ReplicaEventError("malformed", `snapshot ${r}[${i - 1}]: ${e.message}`);
            throw e;
          }
        }
        const now = new Date().toISOString();
        this.stmt.setState.run(position, now, now, null);
        const source = typeof s.source === "string" ? s.source : feeding.source;
        this.stmt.fed.run(source ?? null, feeding.by, now);
      })
      .immediate();
    this.reloadIndexes();
  }

  /**
   * One transaction: apply events in order, idempotently. An event whose
   * position is <= the replica's position is skipped; per row, an event
   * never overwrites a row written by a higher position. Records the new
   * position (max applied) in the same transaction. Returns how many events
   * were applied (not skipped).
   */
  applyEvents(events: ChangeEvent[], feeding?: Feeding): number {
    const applied = this.db
      .transaction(() => {
        const start = this.position();
        let top: { position: number; time: string | null } | undefined;
        let applied = 0;
        for (const e of events) {
          if (!Number.isSafeInteger(e.position) || e.position <= 0)
            throw new ReplicaEventError("malformed", `event ${e.id} has no valid position`);
          if (e.position <= start) continue;
          const type = parseEventType(e);
          if (!type) {
            // Not the edge's business, but part of the sequence: the position moves past it.
            if (!top || e.position > top.position)
              top = { position: e.position, time: typeof e.time === "string" ? e.time : null };
            continue;
          }
          const { resource, action } = type;
          const id = e.subject;
          if (typeof id !== "string" || id === "")
            throw new ReplicaEventError("malformed", `event ${e.position} has no subject`, e.position);
          const seen = this.writer.version(resource, id);
          if (seen !== undefined && seen >= e.position) continue;
          const where = `event ${e.position} (${e.type} ${id})`;
          if (action === "deleted") this.writer.remove(resource, id, e.position);
          else {
            const env = envelopeOf(e.data, where, e.position);
            if (env.metadata.id !== id)
              throw new ReplicaEventError(
                "malformed",
                `${where}: data.metadata.id is '${env.metadata.id}', not the subject`,
                e.position,
              );
            this.writer.write(resource, env, e.position, where, e.position);
          }
          applied++;
          if (!top || e.position > top.position)
            top = { position: e.position, time: typeof e.time === "string" ? e.time : null };
        }
        const now = new Date().toISOString();
        if (top) {
          this.stmt.applied.run(top.position, now, top.time);
          this.stmt.pruneRevocations.run(Date.now());
        }
        if (feeding) this.stmt.fed.run(feeding.source ?? null, feeding.by, now);
        return applied;
      })
      .immediate();
    // In the same synchronous step as the commit: no request is answered from half a batch.
    // A batch that changed no row (events the replica already has, e.g. the minute a new
    // stream consumer repeats) leaves the indexes as they are: re-reading its rows would only
    // replace index entries with equal ones, and at 100,000 repeated events that garbage
    // grew the process by over 100 MiB.
    if (applied > 0 && this.serving) {
      this.boot.refresh(events);
      this.cloudInit.refresh(events);
    }
    return applied;
  }

  private reloadIndexes() {
    if (!this.serving) return;
    this.boot.reload();
    this.cloudInit.reload();
  }

  /** Everything, as the control plane's snapshot has it (same shape, same order), for comparison. */
  dump(): Snapshot {
    const now = Date.now();
    const out = { position: this.position() } as Snapshot;
    for (const r of REPLICATED_RESOURCES)
      out[r] = this.stmt.docs[r](now).map((doc) => JSON.parse(doc) as Resource<unknown>);
    return out;
  }

  /** Drops all replicated data and the position (for --resync). */
  reset(): void {
    this.db
      .transaction(() => {
        this.writer.clear();
        this.stmt.setState.run(0, null, null, null);
        this.db.prepare("update replica_state set source_id = null, fed_by = null, fed_at = null").run();
      })
      .immediate();
    this.reloadIndexes();
  }

  /** Every interface with its addresses, for the DHCP reservations (edge-node/kea). */
  dhcpHosts(): DhcpHost[] {
    return this.stmt.interfaces.all().map((r) => ({
      componentId: r.component_id,
      interfaceId: r.id,
      mac: r.mac_address,
      addresses: ((JSON.parse(r.doc) as Resource<Interface>).spec.ipAddresses ?? []).map((a) => a.ipAddress),
    }));
  }

  /**
   * Whether a token is revoked at `now` (a revocation counts until it
   * expires): its jti, or, given its subject and issue time, a subject
   * revocation of that account made after the token was issued.
   */
  isRevoked(jti: string, now: Date, token?: { sub: string; issuedAt: Date }): boolean {
    return (
      this.stmt.revoked.get({
        jti,
        sub: token?.sub ?? null,
        issuedAt: token?.issuedAt.getTime() ?? null,
        now: now.getTime(),
      }) !== undefined
    );
  }
}
