CREATE TABLE "bss"."artifacts" (
	"name" varchar(128) PRIMARY KEY NOT NULL,
	"sha256" varchar(64) NOT NULL,
	"size" bigint NOT NULL,
	"kind" varchar(16) NOT NULL,
	"labels" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"url" text,
	"stored" boolean DEFAULT false NOT NULL,
	"etag" varchar(32) NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "bss"."boot_params" ADD COLUMN "kernel" jsonb;--> statement-breakpoint
ALTER TABLE "bss"."boot_params" ADD COLUMN "initrd" jsonb;--> statement-breakpoint
CREATE UNIQUE INDEX "artifacts_sha256" ON "bss"."artifacts" USING btree ("sha256");--> statement-breakpoint
-- Operators manage artifacts as they manage boot parameters; viewers read them; edges read
-- those labelled for their site, to stage them before boot parameters name them.
INSERT INTO "auth"."casbin_rules" ("id", "ptype", "v0", "v1") VALUES
  ('pol-edge-read-artifacts', 'p', 'edge', 'read:artifacts'),
  ('pol-operator-read-artifacts', 'p', 'operator', 'read:artifacts'),
  ('pol-operator-write-artifacts', 'p', 'operator', 'write:artifacts'),
  ('pol-operator-delete-artifacts', 'p', 'operator', 'delete:artifacts'),
  ('pol-viewer-read-artifacts', 'p', 'viewer', 'read:artifacts')
ON CONFLICT DO NOTHING;
