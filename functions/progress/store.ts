/**
 * The boot progress store port: the last stage each node reached, and the
 * edges' reports of themselves. The control plane keeps them in Postgres
 * (control/stores/progress.ts).
 */
import type { EdgeReport, Stage, StageCounts } from "./schemas";

/** A stage a node was seen at, with when as an instant of the control plane's clock. */
export interface SeenStage {
  node: string;
  stage: Stage;
  at: Date;
  /** `at` as the edge sent it, by its own clock (the control plane's own sightings: `at`). */
  edgeAt: Date;
  retry: number | null;
  address: string | null;
}

/**
 * Where the serving handlers say what they saw (functions/boot/bootscript.ts,
 * functions/cloud-init/serve.ts): synchronous and never failing, since it
 * runs inside the answer to a booting node. An edge keeps it for its next
 * batch (edge-node/progress/recorder.ts).
 */
export interface ProgressObserver {
  seen(e: { node: string; stage: Stage; retry?: number; address?: string }): void;
}

export interface StatusQuery {
  stages: Stage[];
  groups: string[];
  racks: string[];
  edges: string[];
  ids: string[];
  /** Only nodes short of phone-home whose stage is at least this old. */
  stuckForSeconds: number | undefined;
  sort: { field: "at" | "id" | "stage"; desc: boolean };
  limit: number;
  offset: number;
  now: Date;
}

export interface StatusRow extends Omit<SeenStage, "edgeAt"> {
  edge: string | null;
  rack: string | null;
}

export interface StoredEdge {
  name: string;
  reportedAt: Date;
  report: EdgeReport;
}

export interface ProgressStore {
  /**
   * Records what `edge` (null: the control plane itself) saw. A node moves
   * only forward: an event no later (by time, then stage) than what is
   * recorded changes nothing, so a batch sent twice or late is harmless.
   * Events of the edge that recorded the node last are compared by `edgeAt`
   * (exact for resends), others by `at`.
   * Events for nodes not in the inventory are ignored. Answers how many
   * moved a node.
   */
  record(edge: string | null, events: SeenStage[]): Promise<number>;
  /** A page of nodes, the total, and the counts per stage (see BootStatusListSchema). */
  status(q: StatusQuery): Promise<{ rows: StatusRow[]; total: number; counts: StageCounts }>;
  reportEdge(name: string, report: EdgeReport, at: Date): Promise<void>;
  /** Every edge that has reported, by name. */
  edges(): Promise<StoredEdge[]>;
}
