import type { PgDatabase, PgQueryResultHKT } from "drizzle-orm/pg-core";
import type * as schema from "./schema";

/**
 * A drizzle Postgres database, whichever driver is behind it (PGlite,
 * node-postgres, Hyperdrive pg, Neon). Stores depend on this type only.
 */
// biome-ignore lint/suspicious/noExplicitAny: the driver's result type differs per driver and stores do not read it.
export type Db = PgDatabase<PgQueryResultHKT & any, typeof schema>;

/** A transaction of `Db`, as stores receive it inside `db.transaction(…)`. */
export type Tx = Parameters<Parameters<Db["transaction"]>[0]>[0];

/** Either: a helper that reads inside or outside a transaction. */
export type Q = Db | Tx;
