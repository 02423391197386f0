-- Boot progress: edges post their nodes' stages and report themselves;
-- operators and viewers read the boot status and the edges.
INSERT INTO "auth"."casbin_rules" ("id", "ptype", "v0", "v1") VALUES
  ('pol-edge-write-boot-progress', 'p', 'edge', 'write:boot-progress'),
  ('pol-edge-write-edges', 'p', 'edge', 'write:edges'),
  ('pol-operator-read-boot-status', 'p', 'operator', 'read:boot-status'),
  ('pol-operator-read-edges', 'p', 'operator', 'read:edges'),
  ('pol-viewer-read-boot-status', 'p', 'viewer', 'read:boot-status'),
  ('pol-viewer-read-edges', 'p', 'viewer', 'read:edges')
ON CONFLICT DO NOTHING;
