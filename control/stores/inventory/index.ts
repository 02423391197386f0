/**
 * InventoryStore over Postgres (any drizzle pg driver), one section per
 * file, each class extending the one before so that the store stays one
 * object: components (./components), interfaces (./interfaces), groups and
 * partitions (./groups); their shared rows, events and errors are in
 * ./rows, the pure batch rules in ./rules.
 */
import type { InventoryStore } from "../../../functions/inventory/store";
import { PgGroupStore } from "./groups";

export class PgInventoryStore extends PgGroupStore implements InventoryStore {}
