-- Edge nodes run the power tasks and discovery scans of their site: their
-- role may use the agent endpoints (which answer BMC credentials for work
-- handed to the site), and nothing else of power or discovery.
INSERT INTO "auth"."casbin_rules" ("id", "ptype", "v0", "v1") VALUES
  ('pol-edge-power-agent', 'p', 'edge', 'admin:power-agent'),
  ('pol-edge-discovery-agent', 'p', 'edge', 'admin:discovery-agent')
ON CONFLICT DO NOTHING;
