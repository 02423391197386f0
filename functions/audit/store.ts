/**
 * The audit trail's store port. The control plane keeps it in Postgres
 * (control/stores/audit.ts); the edge has no writes and no audit store.
 */
import type { ListQuery } from "../../shared/list-query";
import type { Page } from "../inventory/store";
import type { AuditEvent } from "./schemas";

/** What an MCP tool call adds to its audit record (functions/mcp/server.ts). */
export interface AuditDetail {
  transport: "stdio" | "http";
  mode: "read-only" | "read-write";
  /** read or write; null for a tool that is not there to call. */
  capability: "read" | "write" | null;
  /** The MCP session, as the agent sends it back (Mcp-Session-Id); null without one. */
  sessionId: string | null;
  /** How long the call took. */
  ms: number;
}

/** One record as the middleware hands it over; the store adds the id and, unless given, the time. */
export interface AuditEntry {
  time?: Date;
  subject: string | null;
  roles: string[];
  clientAddress: string | null;
  method: string;
  route: string;
  resourceId: string | null;
  status: number;
  requestId: string | null;
  action: string | null;
  /** Set for an MCP tool call only. */
  detail?: AuditDetail | null;
}

export interface AuditStore {
  /** Writes one record, committed when the promise resolves. */
  record(entry: AuditEntry): Promise<void>;
  /**
   * A page of records, newest first unless `sort=time`. Filters are equality
   * matches (several values: any of them) except `since` (at or after) and
   * `until` (before), ISO instants (several: the widest).
   */
  list(q: ListQuery): Promise<Page<AuditEvent>>;
  /** Deletes the records older than `before`; resolves to how many. */
  prune(before: Date): Promise<number>;
}
