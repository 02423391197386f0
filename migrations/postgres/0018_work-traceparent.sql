ALTER TABLE "discovery"."scans" ADD COLUMN "traceparent" varchar(55);--> statement-breakpoint
ALTER TABLE "power"."transitions" ADD COLUMN "traceparent" varchar(55);