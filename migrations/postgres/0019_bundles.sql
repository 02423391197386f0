CREATE TABLE "events"."installation" (
	"id" uuid PRIMARY KEY DEFAULT gen_random_uuid() NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
DROP INDEX "auth"."signing_keys_one_active";--> statement-breakpoint
ALTER TABLE "auth"."signing_keys" ADD COLUMN "purpose" varchar(16) DEFAULT 'token' NOT NULL;--> statement-breakpoint
CREATE UNIQUE INDEX "signing_keys_one_active" ON "auth"."signing_keys" USING btree ("purpose") WHERE "auth"."signing_keys"."retired_at" is null;--> statement-breakpoint
-- The one row: made here, so every process of this control plane reads the same id.
INSERT INTO "events"."installation" DEFAULT VALUES;