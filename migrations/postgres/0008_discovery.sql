CREATE SCHEMA "discovery";
--> statement-breakpoint
CREATE TABLE "discovery"."scans" (
	"id" uuid PRIMARY KEY NOT NULL,
	"target_ids" text[] NOT NULL,
	"state" varchar(16) DEFAULT 'new' NOT NULL,
	"dry_run" boolean DEFAULT false NOT NULL,
	"site" varchar(255),
	"requested_by" varchar(255) NOT NULL,
	"message" text DEFAULT '' NOT NULL,
	"results" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"started_at" timestamp (3) with time zone,
	"finished_at" timestamp (3) with time zone,
	"etag" varchar(32) NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "discovery"."targets" (
	"id" varchar(255) PRIMARY KEY NOT NULL,
	"name" varchar(255) DEFAULT '' NOT NULL,
	"addresses" text[] NOT NULL,
	"driver" varchar(32) DEFAULT 'redfish' NOT NULL,
	"credential_id" varchar(255) NOT NULL,
	"site" varchar(255),
	"options" jsonb DEFAULT '{}'::jsonb NOT NULL,
	"etag" varchar(32) NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE INDEX "scans_state_idx" ON "discovery"."scans" USING btree ("state","site");--> statement-breakpoint
CREATE INDEX "scans_created_idx" ON "discovery"."scans" USING btree ("created_at");