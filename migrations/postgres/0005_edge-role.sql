-- The role of edge nodes' service accounts: read the snapshot and change
-- feed, and the revocations they enforce.
INSERT INTO "auth"."casbin_rules" ("id", "ptype", "v0", "v1") VALUES
  ('pol-edge-read-feed', 'p', 'edge', 'read:feed'),
  ('pol-edge-read-revocations', 'p', 'edge', 'read:revocations')
ON CONFLICT DO NOTHING;
