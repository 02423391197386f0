CREATE SCHEMA "audit";
--> statement-breakpoint
CREATE TABLE "audit"."events" (
	"id" bigserial PRIMARY KEY NOT NULL,
	"time" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"subject" varchar(255),
	"roles" jsonb DEFAULT '[]'::jsonb NOT NULL,
	"client_address" varchar(64),
	"method" varchar(16) NOT NULL,
	"route" varchar(255) NOT NULL,
	"resource_id" varchar(255),
	"status" integer NOT NULL,
	"request_id" varchar(255),
	"action" varchar(64)
);
--> statement-breakpoint
ALTER TABLE "auth"."revocations" ADD COLUMN "subject" varchar(255);--> statement-breakpoint
ALTER TABLE "auth"."revocations" ADD COLUMN "issued_before" timestamp (3) with time zone;--> statement-breakpoint
CREATE INDEX "audit_events_time_idx" ON "audit"."events" USING btree ("time");--> statement-breakpoint
CREATE INDEX "audit_events_subject_idx" ON "audit"."events" USING btree ("subject","time");--> statement-breakpoint
CREATE INDEX "audit_events_resource_idx" ON "audit"."events" USING btree ("resource_id","time");--> statement-breakpoint
CREATE INDEX "revocations_subject_idx" ON "auth"."revocations" USING btree ("subject") WHERE "auth"."revocations"."subject" is not null;