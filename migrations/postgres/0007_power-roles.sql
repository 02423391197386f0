-- Power control: viewers and operators read transitions, power status and
-- BMC endpoints; operators also power nodes on and off. Managing BMC
-- endpoints (admin:power) stays with admins, who hold '*'.
INSERT INTO "auth"."casbin_rules" ("id", "ptype", "v0", "v1") VALUES
  ('pol-operator-read-power', 'p', 'operator', 'read:power'),
  ('pol-operator-write-power', 'p', 'operator', 'write:power'),
  ('pol-viewer-read-power', 'p', 'viewer', 'read:power')
ON CONFLICT DO NOTHING;
