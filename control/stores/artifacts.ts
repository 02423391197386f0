/**
 * ArtifactStore over Postgres: artifact metadata (bss.artifacts), and the
 * resolution of the artifacts boot parameters name (`resolveArtifactRef`),
 * run inside the boot-parameter write's transaction so that a deletion
 * cannot slip between the check and the write.
 */
import { eq, or, sql } from "drizzle-orm";
import type {
  Artifact,
  ArtifactKindName,
  ArtifactRef,
  ArtifactRefInput,
} from "../../functions/artifacts/schemas";
import { SHA256_PATTERN } from "../../functions/artifacts/schemas";
import type { ArtifactStore } from "../../functions/artifacts/store";
import type { Page } from "../../functions/inventory/store";
import type { Stored } from "../../shared/envelope";
import type { ListQuery } from "../../shared/list-query";
import { ApiError, notFound } from "../../shared/problem";
import { artifacts, bootParams } from "../db/schema";
import type { Db, Q, Tx } from "../db/types";
import { newEtag, orderOf, pageOf, raceError, whereOf } from "./pg-util";

type Row = typeof artifacts.$inferSelect;

const columns = {
  name: artifacts.name,
  sha256: artifacts.sha256,
  kind: artifacts.kind,
  size: artifacts.size,
  createdAt: artifacts.createdAt,
  updatedAt: artifacts.updatedAt,
};

const artifactOf = (r: Row): Stored<Artifact> => ({
  id: r.name,
  etag: r.etag,
  createdAt: r.createdAt,
  updatedAt: r.updatedAt,
  spec: {
    name: r.name,
    sha256: r.sha256,
    size: r.size,
    kind: r.kind as ArtifactKindName,
    labels: r.labels,
    url: r.url,
    stored: r.stored,
  },
});

const byKey = (key: string) =>
  SHA256_PATTERN.test(key) ? eq(artifacts.sha256, key) : eq(artifacts.name, key);

async function find(q: Q, key: string) {
  const [row] = await q.select().from(artifacts).where(byKey(key));
  return row;
}

/**
 * The artifact a write names, as boot parameters keep it: 422 naming
 * `field` when it does not exist, has no content yet, or is not what the
 * rest of the reference (a GET sent back) says.
 */
export async function resolveArtifactRef(
  tx: Tx,
  field: string,
  input: ArtifactRefInput,
): Promise<ArtifactRef> {
  const refuse = (message: string) => {
    throw new ApiError("validation", `${field}: ${message}`, { errors: [{ field, message }] });
  };
  const found = await find(tx, input.artifact);
  if (!found) return refuse(`artifact '${input.artifact}' does not exist`);
  // The lock `delete` takes, then a second look: a deletion that checked for users before this
  // write has committed by now, and one that comes later sees this write's row.
  await lockArtifact(tx, found.sha256);
  const row = await find(tx, found.name);
  if (!row) return refuse(`artifact '${input.artifact}' does not exist`);
  if (row.url === null && !row.stored)
    return refuse(`artifact '${row.name}' has no content yet: upload it first`);
  const ref: ArtifactRef = { artifact: row.name, sha256: row.sha256, size: row.size, url: row.url };
  if (input.sha256 !== undefined && input.sha256 !== ref.sha256)
    refuse(`artifact '${row.name}' has sha256 ${ref.sha256}, not ${input.sha256}`);
  if (input.size !== undefined && input.size !== ref.size)
    refuse(`artifact '${row.name}' is ${ref.size} bytes, not ${input.size}`);
  return ref;
}

export class PgArtifactStore implements ArtifactStore {
  constructor(private readonly db: Db) {}

  async list(q: ListQuery): Promise<Page<Artifact>> {
    // ?label=k=v,k2=v2: any of them (jsonb containment, one pair each).
    const labels = (q.filters.label ?? []).map((l) => {
      const [k, ...v] = String(l).split("=");
      return sql`${artifacts.labels} @> ${JSON.stringify({ [k!]: v.join("=") })}::jsonb`;
    });
    const { rows, total } = await pageOf(
      this.db,
      artifacts,
      whereOf(q, columns, labels.length ? [or(...labels)] : []),
      orderOf(q, columns, artifacts.name),
      q,
    );
    return { rows: rows.map(artifactOf), total };
  }

  async get(key: string) {
    const row = await find(this.db, key);
    return row ? artifactOf(row) : undefined;
  }

  async create(a: Artifact) {
    try {
      return await this.db.transaction(async (tx) => {
        const [taken] = await tx
          .select({ name: artifacts.name, sha256: artifacts.sha256 })
          .from(artifacts)
          .where(or(eq(artifacts.name, a.name), eq(artifacts.sha256, a.sha256)));
        if (taken)
          throw new ApiError(
            "conflict",
            taken.name === a.name
              ? `artifact '${a.name}' already exists: a new build needs a new name`
              : `artifact '${taken.name}' already has sha256 ${a.sha256}`,
            { errors: [{ field: taken.name === a.name ? "name" : "sha256", message: "already registered" }] },
          );
        const now = new Date();
        const [row] = await tx
          .insert(artifacts)
          .values({ ...a, etag: newEtag(), createdAt: now, updatedAt: now })
          .returning();
        return artifactOf(row!);
      });
    } catch (e) {
      throw raceError(e, {
        unique: "A concurrent registration took the same name or sha256; retry to see which",
      });
    }
  }

  async markStored(name: string) {
    const [row] = await this.db
      .update(artifacts)
      .set({ stored: true, etag: newEtag(), updatedAt: new Date() })
      .where(eq(artifacts.name, name))
      .returning();
    if (!row) throw notFound("artifact", name);
    return artifactOf(row);
  }

  async delete(key: string) {
    return this.db.transaction(async (tx) => {
      const row = await find(tx, key);
      if (!row) throw notFound("artifact", key);
      // Locks out a boot-parameter write that would name it between this check and the delete.
      await lockArtifact(tx, row.sha256);
      const users = await tx
        .select({ id: bootParams.id })
        .from(bootParams)
        .where(
          or(
            sql`${bootParams.kernel}->>'sha256' = ${row.sha256}`,
            sql`${bootParams.initrd}->>'sha256' = ${row.sha256}`,
          ),
        )
        .orderBy(bootParams.id);
      if (users.length > 0)
        throw new ApiError(
          "conflict",
          `artifact '${row.name}' is named by boot parameters ${users.map((u) => `'${u.id}'`).join(", ")}; change those first`,
        );
      await tx.delete(artifacts).where(eq(artifacts.name, row.name));
      return artifactOf(row);
    });
  }
}

/** Orders a boot-parameter write naming an artifact and a deletion of it (for this transaction). */
async function lockArtifact(tx: Q, sha256: string) {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`artifact:${sha256}`}))`);
}
