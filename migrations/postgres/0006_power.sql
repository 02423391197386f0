CREATE SCHEMA "power";
--> statement-breakpoint
CREATE TABLE "power"."bmc_endpoints" (
	"id" varchar(255) PRIMARY KEY NOT NULL,
	"address" text NOT NULL,
	"credential_id" varchar(255) NOT NULL,
	"auth" varchar(16) DEFAULT 'basic' NOT NULL,
	"insecure" boolean DEFAULT false NOT NULL,
	"site" varchar(255),
	"etag" varchar(32) NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "power"."tasks" (
	"id" uuid PRIMARY KEY NOT NULL,
	"transition_id" uuid NOT NULL,
	"position" integer NOT NULL,
	"xname" varchar(255) NOT NULL,
	"bmc_id" varchar(255),
	"state" varchar(16) NOT NULL,
	"message" text DEFAULT '' NOT NULL,
	"power_state" varchar(32),
	"site" varchar(255),
	"deadline_at" timestamp (3) with time zone,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "power"."transitions" (
	"id" uuid PRIMARY KEY NOT NULL,
	"operation" varchar(32) NOT NULL,
	"task_deadline_minutes" double precision DEFAULT 5 NOT NULL,
	"state" varchar(16) DEFAULT 'new' NOT NULL,
	"dry_run" boolean DEFAULT false NOT NULL,
	"requested_by" varchar(255) NOT NULL,
	"completed_at" timestamp (3) with time zone,
	"etag" varchar(32) NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
ALTER TABLE "power"."tasks" ADD CONSTRAINT "tasks_transition_id_transitions_id_fk" FOREIGN KEY ("transition_id") REFERENCES "power"."transitions"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "bmc_endpoints_site_idx" ON "power"."bmc_endpoints" USING btree ("site");--> statement-breakpoint
CREATE INDEX "bmc_endpoints_credential_idx" ON "power"."bmc_endpoints" USING btree ("credential_id");--> statement-breakpoint
CREATE INDEX "tasks_transition_idx" ON "power"."tasks" USING btree ("transition_id","position");--> statement-breakpoint
CREATE INDEX "tasks_queue_idx" ON "power"."tasks" USING btree ("state","site") WHERE "power"."tasks"."state" in ('new', 'in-progress');--> statement-breakpoint
CREATE INDEX "tasks_power_state_idx" ON "power"."tasks" USING btree ("xname","updated_at") WHERE "power"."tasks"."power_state" is not null;--> statement-breakpoint
CREATE INDEX "transitions_state_idx" ON "power"."transitions" USING btree ("state");--> statement-breakpoint
CREATE INDEX "transitions_created_idx" ON "power"."transitions" USING btree ("created_at");