import type { Stores } from "../../functions/stores";
import type { Db } from "../db/types";
import { PgArtifactStore } from "./artifacts";
import { PgAuditStore } from "./audit";
import { PgAccountStore } from "./auth/accounts";
import { PgCredentialStore } from "./auth/credentials";
import { PgKeyStore } from "./auth/keys";
import { PgPolicyStore } from "./auth/policies";
import { PgRevocationStore } from "./auth/revocations";
import { allBootParams, PgBootStore } from "./boot";
import { PgCloudInitStore, payloadResources } from "./cloud-init";
import { PgDiscoveryStore } from "./discovery";
import { PgFeedStore } from "./feed";
import { PgInventoryStore } from "./inventory";
import { PgPowerStore } from "./power";
import { PgProgressStore } from "./progress";
import { PgSystemStore } from "./system";

/** All Postgres-backed stores over one database handle. */
export const pgStores = (db: Db): Stores => ({
  inventory: new PgInventoryStore(db),
  system: new PgSystemStore(db),
  cloudInit: new PgCloudInitStore(db),
  boot: new PgBootStore(db),
  power: new PgPowerStore(db),
  discovery: new PgDiscoveryStore(db),
  audit: new PgAuditStore(db),
  progress: new PgProgressStore(db),
  artifacts: new PgArtifactStore(db),
  feed: new PgFeedStore(db, async (tx) => ({
    bootparams: await allBootParams(tx),
    payloads: await payloadResources(tx),
  })),
  auth: {
    keys: new PgKeyStore(db, "token"),
    bundleKeys: new PgKeyStore(db, "bundle"),
    accounts: new PgAccountStore(db),
    revocations: new PgRevocationStore(db),
    policies: new PgPolicyStore(db),
    credentials: new PgCredentialStore(db),
  },
});
