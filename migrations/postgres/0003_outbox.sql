CREATE SCHEMA "events";
--> statement-breakpoint
CREATE TABLE "events"."outbox" (
	"position" bigserial PRIMARY KEY NOT NULL,
	"id" uuid NOT NULL,
	"source" varchar(64) NOT NULL,
	"type" varchar(128) NOT NULL,
	"subject" varchar(255) NOT NULL,
	"time" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"data" jsonb NOT NULL,
	"sent_at" timestamp (3) with time zone,
	CONSTRAINT "outbox_id_unique" UNIQUE("id")
);
--> statement-breakpoint
CREATE INDEX "outbox_unsent" ON "events"."outbox" USING btree ("position") WHERE "events"."outbox"."sent_at" is null;