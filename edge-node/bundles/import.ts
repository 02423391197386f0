/**
 * `chamicore edge import <bundle>`: feeds the replica from a bundle carried
 * across an air gap (docs/air-gapped.md). Everything is checked first
 * (./read.ts: signature, members, sizes, digests), then against the
 * replica: the same control plane (unless told otherwise), no going back
 * to an older position (unless told), and a delta only onto the exact
 * position it follows. Then the artifacts go into the edge's cache (each
 * verified already, moved in by rename) and the data into the replica in
 * one SQLite transaction: a process killed at any point leaves the replica
 * at its previous position, whole, or at the new one.
 *
 * A running edge on the same data directory sees the commit within a
 * second (./watch.ts) and serves from it.
 */
import { closeSync, mkdirSync, openSync, readSync, renameSync, rmSync } from "node:fs";
import { basename, join } from "node:path";
import { StringDecoder } from "node:string_decoder";
import { type BundleManifest, CHANGES_MEMBER, snapshotMember } from "../../functions/bundles/format";
import { SNAPSHOT_RESOURCES } from "../../functions/events/store";
import type { ChangeEvent } from "../../shared/events";
import type { BundleImportFlags, BundleImportReport, Env } from "../../shared/node/cli/app";
import { pidLock } from "../../shared/node/pid-lock";
import { ARTIFACTS_DIR } from "../artifacts/layout";
import { loadEdgeConfig } from "../config";
import { ReplicaEventError } from "../replica/events";
import { Replica } from "../replica/replica";
import type { SnapshotSource } from "../replica/snapshot-document";
import type { OpenSqlite } from "../replica/sqlite";
import { BundleRefused, readBundle, type StagedBundle } from "./read";
import { loadTrustedKeys, TrustError } from "./trust";

export { BundleRefused };

/** Beside replica.db: where a bundle's members wait while they are checked. */
export const STAGING_DIR = "bundle-import";

export interface ImportOptions {
  dataDir: string;
  sqlite: OpenSqlite;
  file: string;
  /** CHAMICORE_EDGE_TRUSTED_KEYS. */
  trustedKeys: string | undefined;
  /** Import a bundle older than the replica's position (a deliberate rollback). */
  allowOlder?: boolean;
  /** Replace a replica fed by another control plane with this bundle's snapshot. */
  allowOtherSource?: boolean;
  /** Told of each step, for the operator. */
  progress?: (line: string) => void;
}

export type ImportReport = BundleImportReport & { kind: BundleManifest["kind"] };

/** `chamicore edge import` with the edge's configuration (its data directory and trusted keys). */
export function importWithEnv(env: Env, sqlite: OpenSqlite, flags: BundleImportFlags): Promise<ImportReport> {
  const config = loadEdgeConfig(env);
  return importBundle({
    dataDir: config.CHAMICORE_EDGE_DATA_DIR,
    sqlite,
    file: flags.file,
    trustedKeys: config.CHAMICORE_EDGE_TRUSTED_KEYS,
    allowOlder: flags.allowOlder,
    allowOtherSource: flags.allowOtherSource,
    progress: flags.progress,
  });
}

export async function importBundle(o: ImportOptions): Promise<ImportReport> {
  const t0 = performance.now();
  const say = o.progress ?? (() => {});
  if (!o.trustedKeys)
    throw new BundleRefused(
      "CHAMICORE_EDGE_TRUSTED_KEYS is not set: give it the control plane's bundle key (`chamicore export --public-key bundle-key.json` on the connected side)",
    );
  let trusted: Awaited<ReturnType<typeof loadTrustedKeys>>;
  try {
    trusted = await loadTrustedKeys(o.trustedKeys);
  } catch (e) {
    if (e instanceof TrustError) throw new BundleRefused(e.message);
    throw e;
  }
  const staging = join(o.dataDir, STAGING_DIR);
  const unlock = lock(o.dataDir);
  let replica: Replica;
  try {
    replica = Replica.open(o.dataDir, { sqlite: o.sqlite, serving: false });
  } catch (e) {
    unlock();
    throw e;
  }
  try {
    say(`verifying ${o.file}`);
    const bundle = await readBundle(o.file, trusted, staging);
    const m = bundle.manifest;
    say(
      `verified: a ${m.kind} of ${m.source} at position ${m.position}, signed by ${bundle.signedBy}, ${m.members.length} members`,
    );
    const state = replica.status();
    const before = state.position;
    checkAgainst(m, state, o);
    const artifacts = installArtifacts(o.dataDir, bundle);
    if (artifacts > 0) say(`${artifacts} artifact(s) placed in the cache`);
    const feeding = { by: `bundle:${basename(o.file)}`, source: m.source };
    say(`applying to the replica at position ${before}`);
    try {
      if (m.kind === "snapshot") replica.applySnapshot(ndjsonSnapshot(bundle), feeding);
      else {
        const events = [...lines(bundle.files.get(CHANGES_MEMBER)!)].map((l, i) => parseEvent(l, i));
        replica.applyEvents(events, feeding);
      }
    } catch (e) {
      // Signed, yet not what this edge can hold (a newer control plane's data?): rolled back whole.
      if (e instanceof ReplicaEventError || e instanceof SyntaxError)
        throw new BundleRefused(`the replica refuses the bundle's data: ${e.message}`);
      throw e;
    }
    const position = replica.position();
    say(`replica at position ${position}`);
    return {
      kind: m.kind,
      source: m.source,
      signedBy: bundle.signedBy,
      before,
      position,
      counts: m.counts,
      artifacts,
      artifactsLeftOut: m.artifactsLeftOut.length,
      ms: Math.round(performance.now() - t0),
    };
  } finally {
    replica.close();
    rmSync(staging, { recursive: true, force: true });
    unlock();
  }
}

/**
 * One import at a time per data directory (they share the staging
 * directory): a lock file holding the importer's pid. One left by a
 * process that died (`kill -9`) is taken over.
 */
function lock(dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true });
  const file = join(dataDir, `${STAGING_DIR}.lock`);
  return pidLock(
    file,
    (pid) =>
      new BundleRefused(
        pid
          ? `another import (pid ${pid}) is running on ${dataDir}: wait for it to end`
          : `cannot take ${file}: another import keeps taking it`,
      ),
  );
}

function checkAgainst(
  m: BundleManifest,
  state: ReturnType<Replica["status"]>,
  o: Pick<ImportOptions, "allowOlder" | "allowOtherSource">,
) {
  const mine = state.feed.source;
  const fed = state.snapshotAt !== null;
  if (fed && mine !== null && mine !== m.source) {
    if (m.kind === "changes")
      throw new BundleRefused(
        `this bundle's changes come from control plane ${m.source}; the replica follows ${mine}: import a full bundle of ${m.source} with --allow-other-source`,
      );
    if (!o.allowOtherSource)
      throw new BundleRefused(
        `this bundle comes from control plane ${m.source}; the replica follows ${mine}: pass --allow-other-source to replace it`,
      );
  }
  const sameSource = !fed || mine === null || mine === m.source;
  if (m.kind === "changes") {
    if (!fed)
      throw new BundleRefused(
        "this bundle holds changes, and the replica holds no snapshot yet: import a full bundle first (`chamicore export` without --since)",
      );
    if (m.base !== state.position)
      throw new BundleRefused(
        `this bundle holds the changes after position ${m.base}; the replica is at ${state.position}: export with --since ${state.position}`,
      );
    return;
  }
  if (sameSource && fed && m.position < state.position && !o.allowOlder)
    throw new BundleRefused(
      `this bundle is at position ${m.position}, older than the replica's ${state.position}: importing it would roll the rack back (pass --allow-older to mean it)`,
    );
}

/** Moves each verified artifact into the cache directory (`artifacts/<sha256>`). */
function installArtifacts(dataDir: string, bundle: StagedBundle): number {
  const dir = join(dataDir, ARTIFACTS_DIR);
  let n = 0;
  for (const member of bundle.manifest.members) {
    if (!member.name.startsWith("artifacts/")) continue;
    mkdirSync(dir, { recursive: true });
    renameSync(bundle.files.get(member.name)!, join(dir, member.sha256));
    n++;
  }
  return n;
}

/** The bundle's snapshot members as the replica reads a snapshot: each line parsed as it is written. */
function ndjsonSnapshot(bundle: StagedBundle): SnapshotSource {
  const { manifest, files } = bundle;
  return {
    position: manifest.position,
    source: manifest.source,
    list: (name) => {
      const r = SNAPSHOT_RESOURCES.find((x) => x === name);
      const file = r && files.get(snapshotMember(r));
      if (!file) return undefined;
      return {
        *[Symbol.iterator]() {
          for (const line of lines(file)) yield JSON.parse(line);
        },
      };
    },
  };
}

function parseEvent(line: string, i: number): ChangeEvent {
  try {
    return JSON.parse(line) as ChangeEvent;
  } catch (e) {
    throw new BundleRefused(`${CHANGES_MEMBER} line ${i + 1}: ${(e as Error).message}`);
  }
}

/**
 * The lines of a file, read synchronously in 1 MiB pieces: the replica
 * writes inside one synchronous SQLite transaction, which cannot await.
 */
function* lines(file: string): Iterable<string> {
  const fd = openSync(file, "r");
  const buf = Buffer.alloc(1 << 20);
  // A character cut by a piece's end is held until the next piece.
  const utf8 = new StringDecoder("utf8");
  let rest = "";
  try {
    for (;;) {
      const n = readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      const text = rest + utf8.write(buf.subarray(0, n));
      const parts = text.split("\n");
      rest = parts.pop()!;
      for (const p of parts) if (p !== "") yield p;
    }
    rest += utf8.end();
    if (rest !== "") yield rest;
  } finally {
    closeSync(fd);
  }
}
