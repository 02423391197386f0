import type { Stores } from "../../functions/inventory/store";
import type { Db } from "../db/types";
import { PgInventoryStore } from "./inventory";
import { PgSystemStore } from "./system";

/** All Postgres-backed stores over one database handle. */
export const pgStores = (db: Db): Stores => ({
  inventory: new PgInventoryStore(db),
  system: new PgSystemStore(db),
});
