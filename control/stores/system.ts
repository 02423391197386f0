/**
 * Readiness of the Postgres database: reachable, and every migration this
 * build ships is applied. The journal is bundled (a JSON import) so the
 * Worker can answer without a filesystem.
 */
import { sql } from "drizzle-orm";
import type { SystemStore } from "../../functions/inventory/store";
import journal from "../../migrations/postgres/meta/_journal.json";
import { safeErrorMessage } from "../../shared/error-fields";
import type { Db } from "../db/types";
import { pgCode, UNDEFINED_TABLE } from "./pg-util";

/** The `when` of the newest migration in this build. */
export const LATEST_MIGRATION = Math.max(...journal.entries.map((e) => e.when));

export class PgSystemStore implements SystemStore {
  constructor(private readonly db: Db) {}

  async readiness() {
    try {
      const res = await this.db.execute(
        sql`select max(created_at)::text as latest from drizzle.__drizzle_migrations`,
      );
      // biome-ignore lint/suspicious/noExplicitAny: result shape differs by driver; all have rows.
      const latest = Number(((res as any).rows ?? res)[0]?.latest ?? 0);
      if (latest < LATEST_MIGRATION)
        return { ok: false, detail: "database schema is behind this build: run `chamicore migrate`" };
      return { ok: true, detail: "database reachable and migrated" };
    } catch (e) {
      if (pgCode(e) === UNDEFINED_TABLE)
        return { ok: false, detail: "database has no schema yet: run `chamicore migrate`" };
      // The driver's message, not the wrapper's (that one quotes the statement).
      return { ok: false, detail: `database unreachable: ${safeErrorMessage(e)}` };
    }
  }
}
