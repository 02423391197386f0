ALTER TABLE "discovery"."targets" ADD COLUMN "schedule_minutes" integer;--> statement-breakpoint
ALTER TABLE "discovery"."targets" ADD COLUMN "next_scan_at" timestamp (3) with time zone;