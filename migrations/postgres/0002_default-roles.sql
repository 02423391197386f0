-- The default roles (admin, operator, viewer). Admins may change them
-- through /auth/v1/policies; a later migration never re-adds a deleted line.
INSERT INTO "auth"."casbin_rules" ("id", "ptype", "v0", "v1") VALUES
  ('pol-admin-all', 'p', 'admin', '*'),
  ('pol-operator-read-components', 'p', 'operator', 'read:components'),
  ('pol-operator-write-components', 'p', 'operator', 'write:components'),
  ('pol-operator-delete-components', 'p', 'operator', 'delete:components'),
  ('pol-operator-read-interfaces', 'p', 'operator', 'read:interfaces'),
  ('pol-operator-write-interfaces', 'p', 'operator', 'write:interfaces'),
  ('pol-operator-delete-interfaces', 'p', 'operator', 'delete:interfaces'),
  ('pol-operator-read-groups', 'p', 'operator', 'read:groups'),
  ('pol-operator-write-groups', 'p', 'operator', 'write:groups'),
  ('pol-operator-delete-groups', 'p', 'operator', 'delete:groups'),
  ('pol-operator-read-bootparams', 'p', 'operator', 'read:bootparams'),
  ('pol-operator-write-bootparams', 'p', 'operator', 'write:bootparams'),
  ('pol-operator-delete-bootparams', 'p', 'operator', 'delete:bootparams'),
  ('pol-operator-read-payloads', 'p', 'operator', 'read:payloads'),
  ('pol-operator-write-payloads', 'p', 'operator', 'write:payloads'),
  ('pol-operator-delete-payloads', 'p', 'operator', 'delete:payloads'),
  ('pol-operator-write-credentials', 'p', 'operator', 'write:credentials'),
  ('pol-operator-delete-credentials', 'p', 'operator', 'delete:credentials'),
  ('pol-operator-read-metrics', 'p', 'operator', 'read:metrics'),
  ('pol-viewer-read-components', 'p', 'viewer', 'read:components'),
  ('pol-viewer-read-interfaces', 'p', 'viewer', 'read:interfaces'),
  ('pol-viewer-read-groups', 'p', 'viewer', 'read:groups'),
  ('pol-viewer-read-bootparams', 'p', 'viewer', 'read:bootparams'),
  ('pol-viewer-read-payloads', 'p', 'viewer', 'read:payloads'),
  ('pol-viewer-read-metrics', 'p', 'viewer', 'read:metrics')
ON CONFLICT DO NOTHING;
