CREATE TABLE "bss"."progress" (
	"component_id" varchar(255) PRIMARY KEY NOT NULL,
	"stage" varchar(16) NOT NULL,
	"at" timestamp (3) with time zone NOT NULL,
	"edge" varchar(64),
	"edge_at" timestamp (3) with time zone NOT NULL,
	"retry" integer,
	"address" varchar(64),
	"received_at" timestamp (3) with time zone DEFAULT now() NOT NULL
);
--> statement-breakpoint
CREATE TABLE "events"."edges" (
	"name" varchar(64) PRIMARY KEY NOT NULL,
	"reported_at" timestamp (3) with time zone NOT NULL,
	"report" jsonb NOT NULL
);
--> statement-breakpoint
ALTER TABLE "bss"."progress" ADD CONSTRAINT "progress_component_id_components_id_fk" FOREIGN KEY ("component_id") REFERENCES "smd"."components"("id") ON DELETE cascade ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "progress_stage_at_idx" ON "bss"."progress" USING btree ("stage","at");--> statement-breakpoint
CREATE INDEX "progress_edge_idx" ON "bss"."progress" USING btree ("edge");