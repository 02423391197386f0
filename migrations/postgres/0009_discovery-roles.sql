-- Discovery: viewers and operators read targets, scans and drivers;
-- operators also manage targets and start and cancel scans.
INSERT INTO "auth"."casbin_rules" ("id", "ptype", "v0", "v1") VALUES
  ('pol-operator-read-discovery', 'p', 'operator', 'read:discovery'),
  ('pol-operator-write-discovery', 'p', 'operator', 'write:discovery'),
  ('pol-viewer-read-discovery', 'p', 'viewer', 'read:discovery')
ON CONFLICT DO NOTHING;
